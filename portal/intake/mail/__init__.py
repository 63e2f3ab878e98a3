"""Email intake: parse, charsets, headers and routing (pure: which office a shared-mailbox
message is for), store (one message's record, its office and notice), ingest (mail through the
one door), quarantine (and the spool), mailboxes (the shared one and each office's own), IMAP
fetch, the mail tables, the quarantine pages and `flask mail`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.intake.mail import models  # noqa: F401  (registers the tables)
    from portal.intake.mail.cli import mail_cli
    from portal.intake.mail.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(mail_cli)
