"""Intake: every channel records submissions through service.record_submission."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.intake import bulk_views, mail, models  # noqa: F401  (tables, bulk routes)
    from portal.intake.cli import submissions_cli
    from portal.intake.public_views import bp as public_bp
    from portal.intake.views import bp

    app.cli.add_command(submissions_cli)
    app.register_blueprint(public_bp)
    app.register_blueprint(bp)
    mail.init_app(app)
