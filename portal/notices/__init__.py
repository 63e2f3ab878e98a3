"""Notices: parse, store and publish rectification notices."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.notices import models  # noqa: F401  (registers the tables)
    from portal.notices.cli import notices_cli
    from portal.notices.public import bp

    app.register_blueprint(bp)
    app.cli.add_command(notices_cli)
    from portal.notices.admin import bp as admin_bp

    app.register_blueprint(admin_bp)
