"""Intake: every channel records submissions through service.record_submission."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.intake import models  # noqa: F401  (registers the tables)
    from portal.intake.cli import submissions_cli
    from portal.intake.mail_views import register as register_mail  # mail, IMAP: issue 6
    from portal.intake.retention import purge_command  # retention: issue 9
    from portal.intake.staff_views import bp as staff_bp  # letters, calls, visits, box: issue 7
    from portal.intake.web import bp as web_bp  # public form, receipt, /track: issue 5

    submissions_cli.add_command(purge_command)
    app.cli.add_command(submissions_cli)
    app.register_blueprint(web_bp)
    register_mail(app)
    app.register_blueprint(staff_bp)
