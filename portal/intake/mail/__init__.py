"""Email intake: parse, charsets and headers (pure), store (one message's record), ingest (mail
through the one door), quarantine (and the spool), IMAP fetch, the mail tables, the quarantine
pages and `flask mail`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.intake.mail import models  # noqa: F401  (registers the tables)
    from portal.intake.mail.cli import mail_cli
    from portal.intake.mail.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(mail_cli)
