"""Staff: accounts, login with TOTP, role checks (see DESIGN.md and portal/staff/auth.py)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Registers models, blueprints and CLI of this feature."""
    from portal.staff import (  # noqa: F401  (tables; pages added to bp; row security)
        enrol_views,
        models,
        office_views,
        rls,
        user_views,
    )
    from portal.staff.audit_views import bp as audit_bp
    from portal.staff.auth import init_auth
    from portal.staff.cli import users_cli
    from portal.staff.scope import init_scope
    from portal.staff.views import bp, nav_context

    init_auth(app)
    init_scope(app)
    app.register_blueprint(bp)
    app.register_blueprint(audit_bp)
    app.context_processor(nav_context)
    app.cli.add_command(users_cli)
