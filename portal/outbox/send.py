"""Deliver due outbox rows with Flask-Mail, at most once each.

Claim: due rows (queued/failed whose next_attempt_at has passed, or sending whose lease
expired) are locked with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL and marked sending
with a lease and a claim token in one short transaction; the conditional UPDATE makes SQLite
safe too. Each attempt counts at claim time, so a worker that dies mid-send still uses one.
Send: one SMTP connection per batch, timeout MAIL_TIMEOUT. Result: sent, or failed with the
error and a backoff of min(2^attempts minutes, 6 h); dead after MAX_ATTEMPTS.

Held: mail with a link to this machine (PUBLIC_BASE_URL left at 127.0.0.1 or localhost) would
send citizens to an address that cannot open; it stays queued, unsent and without using an
attempt, with LOOPBACK_HELD as its last_error (`flask outbox send` says so); it is looked at
again every hour and never sent with such a link (its text was written with the wrong address).
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy import ColumnElement, and_, or_, select, update

from portal.extensions import db
from portal.outbox.models import OutboxMessage
from portal.printing import loopback_links_refused

MAX_ATTEMPTS = 10
# Links a citizen's phone cannot open: this machine's own addresses.
LOOPBACK_MARKERS = ("://127.", "://localhost", "://[::1]", "://0.0.0.0")
LOOPBACK_HELD = (
    "未发送：邮件中的链接指向本机地址（PUBLIC_BASE_URL 仍为 127.0.0.1/localhost），"
    "收件人无法打开。请设置正式网址后再发送。"
)
HOLD_FOR = timedelta(hours=1)
MAX_BACKOFF = timedelta(hours=6)
BATCH = 50
# Errors that concern one message (its recipient, its headers), not the connection.
ROW_ERRORS: tuple[type[Exception], ...] = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPResponseException,
    BadHeaderError,
    UnicodeError,
    ValueError,
)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts, 0)), MAX_BACKOFF)


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)
    held: int = 0  # kept queued: their links point at this machine

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.dead


class _TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout (Flask-Mail 0.10 has none)."""

    def __init__(self, state: Any, timeout: float) -> None:  # state: Flask-Mail's _Mail
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        m = self.mail
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if m.use_ssl:
            host = smtplib.SMTP_SSL(m.server, m.port, timeout=self.timeout)
        else:
            host = smtplib.SMTP(m.server, m.port, timeout=self.timeout)
        host.set_debuglevel(int(m.debug))
        if m.use_tls:
            host.starttls()
        if m.username and m.password:
            host.login(m.username, m.password)
        return host


def _due_clause(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status.in_(("queued", "failed")), OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until <= now),
    )


def claim(limit: int = BATCH, lease: timedelta | None = None) -> list[OutboxMessage]:
    """Mark up to ``limit`` due rows as ours and commit; returns them."""
    now = datetime.now(UTC)
    lease = lease or timedelta(seconds=max(60, 3 * float(current_app.config["MAIL_TIMEOUT"])))
    ids = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(_due_clause(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        db.session.rollback()
        return []
    token = uuid.uuid4().hex
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _due_clause(now))  # re-checked: SQLite has no row lock
        .values(
            status="sending",
            claim_token=token,
            lease_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.claim_token == token, OutboxMessage.status == "sending")
            .order_by(OutboxMessage.id)
        )
    )


def build_message(row: OutboxMessage) -> Message:
    headers = {}
    if row.auto_submitted:
        headers["Auto-Submitted"] = row.auto_submitted
        headers["X-Auto-Response-Suppress"] = "All"
        headers["Precedence"] = "auto_reply"
    if row.in_reply_to:
        headers["In-Reply-To"] = row.in_reply_to
        headers["References"] = row.in_reply_to
    message = Message(
        subject=row.subject,
        recipients=[row.to],
        body=row.text,
        html=row.html,
        sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
        extra_headers=headers,
        charset="utf-8",
    )
    # Stable across retries: a receiver that got a half-confirmed send can dedupe.
    message.msgId = row.message_id
    return message


def _finish(row: OutboxMessage, token: str, error: str | None) -> str:
    """Record one attempt's outcome, only if the row is still ours; returns the new status."""
    now = datetime.now(UTC)
    if error is None:
        values = {"status": "sent", "sent_at": now, "last_error": None}
    elif row.attempts >= MAX_ATTEMPTS:
        values = {"status": "dead", "last_error": error[:2000]}
    else:
        values = {
            "status": "failed",
            "last_error": error[:2000],
            "next_attempt_at": now + backoff(row.attempts),
        }
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.claim_token == token)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return str(values["status"])


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _has_loopback_link(row: OutboxMessage) -> bool:
    # In Python: the text is encrypted at rest, so SQL cannot look inside it.
    return any(marker in (row.text or "") + (row.html or "") for marker in LOOPBACK_MARKERS)


def _hold(row: OutboxMessage, token: str) -> None:
    """Give a claimed row back unsent: queued again in HOLD_FOR, its attempt not counted."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.claim_token == token)
        .values(
            status="queued",
            lease_until=None,
            attempts=OutboxMessage.attempts - 1,
            last_error=LOOPBACK_HELD,
            next_attempt_at=datetime.now(UTC) + HOLD_FOR,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _hold_loopback_links(rows: list[OutboxMessage]) -> tuple[list[OutboxMessage], int]:
    """(the rows to send, how many were held). Nothing is held where loopback links are the
    real address (development, tests: printing.loopback_links_refused)."""
    if not loopback_links_refused(current_app.config):
        return rows, 0
    held = [row for row in rows if _has_loopback_link(row)]
    for row in held:
        _hold(row, row.claim_token or "")
    if held:
        current_app.logger.warning("outbox: %d message(s) held: %s", len(held), LOOPBACK_HELD)
    return [row for row in rows if row not in held], len(held)


def send_due(limit: int = BATCH) -> SendReport:
    """Claim due rows and deliver them over one SMTP connection."""
    report = SendReport()
    rows, report.held = _hold_loopback_links(claim(limit))
    if not rows:
        return report
    work = [(row.id, row.claim_token or "", row, build_message(row)) for row in rows]
    state = current_app.extensions["mail"]
    timeout = float(current_app.config.get("MAIL_TIMEOUT", 10))
    connection_error: str | None = None
    outcomes: list[tuple[OutboxMessage, str, str | None]] = []
    try:
        with _TimedConnection(state, timeout) as connection:
            for _id, token, row, message in work:
                try:
                    connection.send(message)
                except smtplib.SMTPServerDisconnected:
                    raise  # the connection is gone: every remaining row fails alike
                except ROW_ERRORS as exc:
                    outcomes.append((row, token, _describe(exc)))  # this row only
                else:
                    outcomes.append((row, token, None))
    except Exception as exc:  # connection refused, timeout, TLS, login...: retried later
        connection_error = _describe(exc)
    done = {row.id for row, _t, _e in outcomes}
    for _id, token, row, _message in work:
        if row.id not in done:
            outcomes.append((row, token, connection_error or "not sent"))
    for row, token, error in outcomes:
        status = _finish(row, token, error)
        if status == "sent":
            report.sent += 1
        else:
            report.failed += status == "failed"
            report.dead += status == "dead"
            report.errors.append(f"{row.id}: {error}")
    return report
