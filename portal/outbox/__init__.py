"""Outbox: mail is written in the same transaction as its cause and delivered by
`flask outbox send` (see send.py), so a failed SMTP server never loses or blocks anything."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import Flask, current_app

from portal.extensions import db
from portal.outbox.models import OutboxMessage


def init_app(app: Flask) -> None:
    from portal.outbox.cli import outbox_cli

    app.cli.add_command(outbox_cli)


def make_message_id(kind: str, code: str | None = None) -> str:
    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or "portal.invalid"
    parts = [kind, code, uuid.uuid4().hex] if code else [kind, uuid.uuid4().hex]
    return f"<{'-'.join(parts)}@{domain}>"


def enqueue(
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    submission_id: int | None = None,
    submission_code: str | None = None,
    kind: str = "ack",
    in_reply_to: str | None = None,
) -> OutboxMessage:
    """Add a message to the outbox inside the caller's transaction (flushes, never commits).

    ``submission_code`` names the message (Message-ID) and is listed by `flask outbox list`."""
    message = OutboxMessage(
        kind=kind,
        to=to,
        subject=subject,
        text=text,
        html=html,
        message_id=make_message_id(kind, submission_code),
        in_reply_to=in_reply_to,
        # RFC 3834: acknowledgements are automatic; replies written by staff are not.
        auto_submitted="auto-generated" if kind == "ack" else None,
        submission_id=submission_id,
        submission_code=submission_code,
        status="queued",
        attempts=0,
        next_attempt_at=datetime.now(UTC),
    )
    db.session.add(message)
    db.session.flush()
    return message
