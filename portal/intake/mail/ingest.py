"""Raw mail -> submissions, through the one door: dedupe, threading, bounces, quarantine.

``ingest(raw)`` decides what one message is and prints-ready ``IngestOutcome.line()`` gives the
DESIGN.md contract line. Every distinct message leaves a MailMessage row holding its raw bytes;
when the database itself fails the raw message goes to instance/mail-spool/ and MailStoreError
is raised, so the MTA (or the IMAP mark) retries and nothing is lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from portal import audit
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake.mail.models import MailMessage
from portal.intake.mail.parse import ParsedMail, find_receipt_code, parse_message
from portal.intake.models import Submission
from portal.intake.service import (
    DuplicateSubmission,
    Incoming,
    IncomingFile,
    SubmissionRejected,
    add_follow_up,
    find_by_code,
    record_submission,
)
from portal.notices.models import Notice
from portal.outbox.models import OutboxMessage
from portal.personal_data import blind_index

KINDS = ("recorded", "threaded", "duplicate", "ignored", "quarantined")
CODE_RE = r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"
# What `flask mail ingest` may print (tests and MTAs rely on it).
LINE_RE = re.compile(
    rf"^(?:(?:recorded|threaded|duplicate) {CODE_RE}|(?:ignored|quarantined) \S[^\n]*)$"
)
DEFAULT_REOPENS_PER_HOUR = 10
MESSAGE_ID_MAX = 500
NO_TEXT_BODY = "（邮件没有正文，请查看附件。）"
UNREADABLE_BODY = "（邮件正文无法解码，原始邮件已保存，请在后台查看。）"


@dataclass(frozen=True)
class IngestOutcome:
    kind: str  # one of KINDS
    code: str | None = None
    reason: str | None = None

    def line(self) -> str:
        if self.kind in ("recorded", "threaded", "duplicate"):
            return f"{self.kind} {self.code}"
        return f"{self.kind} {one_line(self.reason or 'unknown')}"


class MailStoreError(RuntimeError):
    """The message could not be stored in the database; ``spool_path`` holds its raw bytes."""

    def __init__(self, message: str, spool_path: Path | None) -> None:
        super().__init__(message)
        self.spool_path = spool_path


def one_line(text: str, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", text).strip() or "unknown"
    return flat[:limit]


# --- public entry points ---------------------------------------------------------------------


def ingest(
    raw: bytes, *, source: str = "pipe", received_at: datetime | None = None
) -> IngestOutcome:
    """Turn one raw RFC 5322 message into an outcome; commits. Raises only MailStoreError."""
    try:
        return _ingest(bytes(raw), source=source, received_at=received_at)
    except MailStoreError:
        raise
    except SQLAlchemyError as exc:
        _rollback()
        raise MailStoreError(f"database error: {exc}", spool(raw)) from exc
    except Exception as exc:  # a bug must not lose the message: quarantine it instead
        _rollback()
        return _quarantine_or_spool(raw, source, f"internal error: {type(exc).__name__}: {exc}")


def spool(raw: bytes) -> Path | None:
    """Write raw to instance/mail-spool/ durably (fsync file and directory); None if impossible."""
    try:
        folder = Path(current_app.instance_path) / "mail-spool"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{stamp}-{hashlib.sha256(raw).hexdigest()[:16]}.eml"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return target
    except OSError:
        return None


def drain_spool() -> list[tuple[Path, IngestOutcome]]:
    """Ingest every spooled message; each file is removed once its outcome is committed."""
    folder = Path(current_app.instance_path) / "mail-spool"
    done: list[tuple[Path, IngestOutcome]] = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        outcome = _ingest(path.read_bytes(), source="spool", received_at=None)
        path.unlink()
        done.append((path, outcome))
    return done


# --- the decision ----------------------------------------------------------------------------


def _ingest(raw: bytes, *, source: str, received_at: datetime | None) -> IngestOutcome:
    max_bytes = int(current_app.config.get("MAIL_MAX_BYTES") or 30 * 1024 * 1024)
    parsed = parse_message(raw, max_bytes=max_bytes)
    mail = _Incoming(raw=raw, parsed=parsed, source=source, received_at=received_at)
    seen = _seen_before(mail)
    if seen is not None:
        return seen
    if parsed.quarantine_reason:
        return _store(mail, IngestOutcome("quarantined", reason=parsed.quarantine_reason))
    if parsed.auto_reason:
        return _store(mail, _ignore(parsed))
    submission = _thread_target(parsed)
    if submission is not None:
        return _thread(mail, submission)
    return _record(mail)


@dataclass
class _Incoming:
    raw: bytes
    parsed: ParsedMail
    source: str
    received_at: datetime | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def message_id(self) -> str | None:
        mid = (self.parsed.message_id or "").strip()
        if not mid:
            return None
        if len(mid) > MESSAGE_ID_MAX:  # absurd ids still dedupe, by hash
            return "sha256:" + hashlib.sha256(mid.encode("utf-8", "surrogatepass")).hexdigest()
        return mid

    @property
    def dedupe_key(self) -> str:
        key = self.message_id or self.parsed.dedupe_key or ""
        if not key or len(key) > 200:
            return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return key

    @property
    def hash_key(self) -> str | None:
        """The content hash for mail without a Message-ID (Submission.dedupe_key)."""
        return None if self.message_id else self.dedupe_key

    @property
    def sender_hash(self) -> str | None:
        sender = self.parsed.sender
        return blind_index(sender) if sender else None


def _seen_before(mail: _Incoming) -> IngestOutcome | None:
    """A message we already handled: same Message-ID, same content hash or the same bytes."""
    previous = db.session.execute(
        select(MailMessage.code, MailMessage.release_state, MailMessage.outcome, MailMessage.reason)
        .where(or_(MailMessage.dedupe_key == mail.dedupe_key, MailMessage.sha256 == mail.sha256))
        .order_by(MailMessage.id)
        .limit(1)
    ).first()
    if previous is not None:
        if previous.code:
            return IngestOutcome("duplicate", code=previous.code)
        if previous.release_state == "deleted":
            return IngestOutcome("ignored", reason="deleted by staff")
        return IngestOutcome(previous.outcome, reason=previous.reason)
    # A message recorded through another path (or before a crash between our two commits) is
    # caught by record_submission / add_follow_up raising DuplicateSubmission.
    return None


def _is_bounce(parsed: ParsedMail) -> bool:
    reason = (parsed.auto_reason or "").lower()
    return (
        bool(parsed.bounced_message_ids)
        or reason.startswith("bounce")
        or reason in ("mailer-daemon", "postmaster")
    )


def _ignore(parsed: ParsedMail) -> IngestOutcome:
    reason = parsed.auto_reason or "auto-reply"
    if reason.startswith("read receipt"):
        return IngestOutcome("ignored", reason="read receipt")
    if not _is_bounce(parsed):
        return IngestOutcome("ignored", reason=f"auto-reply ({reason})")
    ids = [i for i in parsed.bounced_message_ids if i]
    if ids:
        forms = ids + [f"<{i}>" for i in ids]
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id.in_(forms), OutboxMessage.status != "bounced")
            .values(status="bounced", last_error="bounced: " + ", ".join(ids)[:400])
        )
    return IngestOutcome("ignored", reason="bounce")


def _thread_target(parsed: ParsedMail) -> Submission | None:
    """The submission this mail answers: [#CODE] in the subject, or a Message-ID we sent."""
    code = find_receipt_code(parsed.subject)
    if code:
        found = find_by_code(code)
        if found is not None:
            return found
    ids = [i for i in [parsed.in_reply_to, *parsed.references] if i]
    if not ids:
        return None
    forms = ids + [f"<{i}>" for i in ids]
    submission_id = db.session.scalar(
        select(OutboxMessage.submission_id)
        .where(OutboxMessage.message_id.in_(forms), OutboxMessage.submission_id.is_not(None))
        .limit(1)
    )
    if submission_id is not None:
        return db.session.get(Submission, submission_id)
    return db.session.scalar(select(Submission).where(Submission.message_id.in_(ids)).limit(1))


def _reopens_in_last_hour(sender_hash: str) -> int:
    since = datetime.now(UTC) - timedelta(hours=1)
    return int(
        db.session.scalar(
            select(func.count(MailMessage.id)).where(
                MailMessage.sender_hash == sender_hash,
                MailMessage.outcome == "threaded",
                MailMessage.received_at >= since,
            )
        )
        or 0
    )


def _thread(mail: _Incoming, submission: Submission) -> IngestOutcome:
    limit = int(current_app.config.get("MAIL_REOPENS_PER_HOUR", DEFAULT_REOPENS_PER_HOUR))
    if mail.sender_hash and _reopens_in_last_hour(mail.sender_hash) >= limit:
        return _store(mail, IngestOutcome("quarantined", reason="rate limit"))
    code = submission.code
    # The receipt code is not a secret: mail from another address is marked as such.
    same_sender = bool(mail.sender_hash) and mail.sender_hash == submission.sender_hash
    try:
        add_follow_up(
            submission,
            body=mail.parsed.text,
            channel="email",
            attachments=_incoming_files(mail.parsed),
            author="submitter" if same_sender else "email (other sender)",
            message_id=mail.message_id,
            actor="mail",
        )
    except DuplicateSubmission as exc:
        return _store(mail, IngestOutcome("duplicate", code=exc.code))
    except SubmissionRejected as exc:
        return _store(mail, _rejected(exc))
    return _store(mail, IngestOutcome("threaded", code=code), submission_id=submission.id)


def _record(
    mail: _Incoming,
    *,
    attachments: Sequence[IncomingFile] | None = None,
    status: str = "received",
    hold_reason: str | None = None,
    actor: str = "mail",
) -> IngestOutcome:
    parsed = mail.parsed
    files_in = list(attachments) if attachments is not None else _incoming_files(parsed)
    body = parsed.text or (NO_TEXT_BODY if files_in or parsed.html else UNREADABLE_BODY)
    sender = parsed.sender
    for _attempt in range(2):
        try:
            receipt = record_submission(
                Incoming(
                    channel="email",
                    body=body,
                    body_html=parsed.html,
                    notice=intake_notice(),
                    subject=parsed.subject or None,
                    attachments=files_in,
                    received_at=mail.received_at,
                    status=status,
                    hold_reason=hold_reason,
                    sender_email=sender,
                    message_id=mail.message_id,
                    dedupe_key=mail.hash_key,
                    raw_message=mail.raw,
                    actor=actor,
                )
            )
        except DuplicateSubmission as exc:
            return _store(mail, IngestOutcome("duplicate", code=exc.code))
        except SubmissionRejected as exc:
            if set(exc.errors) == {"sender_email"} and sender:
                sender = None  # an unusable From address: record without it (raw keeps it)
                continue
            return _store(mail, _rejected(exc))
        return _store(mail, IngestOutcome("recorded", code=receipt.code), receipt.submission_id)
    raise AssertionError("unreachable")


def _rejected(exc: SubmissionRejected) -> IngestOutcome:
    if "attachments" in exc.errors:
        return IngestOutcome(
            "quarantined", reason=f"attachment refused: {exc.errors['attachments']}"
        )
    detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    return IngestOutcome("quarantined", reason=f"rejected: {detail}")


def _incoming_files(parsed: ParsedMail) -> list[IncomingFile]:
    return [IncomingFile(a.filename, a.data, a.content_type) for a in parsed.attachments]


def intake_notice() -> Notice | None:
    """Mail is about the newest published notice unless MAIL_NOTICE_SLUG names one."""
    slug = current_app.config.get("MAIL_NOTICE_SLUG")
    query = select(Notice).where(Notice.state == "published")
    if slug:
        return db.session.scalar(query.where(Notice.slug == slug))
    return db.session.scalar(
        query.order_by(Notice.published_at.desc().nulls_last(), Notice.id.desc()).limit(1)
    )


# --- bookkeeping -----------------------------------------------------------------------------


def _store(
    mail: _Incoming, outcome: IngestOutcome, submission_id: int | None = None
) -> IngestOutcome:
    """Keep one MailMessage row per distinct message, with its compressed raw bytes; commits."""
    parsed = mail.parsed
    row = MailMessage(
        message_id=mail.message_id,
        dedupe_key=mail.dedupe_key,
        sha256=mail.sha256,
        raw=zlib.compress(mail.raw, 6),
        size=len(mail.raw),
        source=mail.source[:20],
        outcome=outcome.kind,
        reason=one_line(outcome.reason, 500) if outcome.reason else None,
        code=outcome.code,
        submission_id=submission_id,
        sender=parsed.sender,
        sender_hash=mail.sender_hash,
        subject=(parsed.subject or "")[:300] or None,
        received_at=mail.received_at or datetime.now(UTC),
        release_state="pending" if outcome.kind == "quarantined" else "none",
    )
    db.session.add(row)
    db.session.commit()
    return outcome


def _rollback() -> None:
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()


def _quarantine_or_spool(raw: bytes, source: str, reason: str) -> IngestOutcome:
    from portal.intake.mail.parse import ParsedMail as _Parsed

    parsed = _Parsed(dedupe_key="sha256:" + hashlib.sha256(raw).hexdigest())
    try:
        full = parse_message(raw)
        parsed.sender, parsed.subject, parsed.message_id = (
            full.sender,
            full.subject,
            full.message_id,
        )
    except Exception:  # noqa: S110 - headers are a courtesy here; the raw bytes are what matter
        pass
    mail = _Incoming(raw=raw, parsed=parsed, source=source, received_at=None)
    try:
        return _store(mail, IngestOutcome("quarantined", reason=reason))
    except SQLAlchemyError as exc:
        _rollback()
        raise MailStoreError(f"database error: {exc}", spool(raw)) from exc


# --- staff actions on quarantined mail -------------------------------------------------------


def quarantined(limit: int = 200, before_id: int | None = None) -> list[MailMessage]:
    query = select(MailMessage).where(MailMessage.release_state == "pending")
    if before_id:
        query = query.where(MailMessage.id < before_id)
    return list(db.session.scalars(query.order_by(MailMessage.id.desc()).limit(limit)))


def accepted_attachments(parsed: ParsedMail) -> tuple[list[IncomingFile], list[str]]:
    """The attachments the intake rules accept one by one, within the limits; the rest named."""
    limits = files.Limits.from_config(current_app.config)
    kept: list[IncomingFile] = []
    refused: list[str] = []
    total = 0
    for item in _incoming_files(parsed):
        try:
            files.check_files([item], limits)
        except files.AttachmentRefused:
            refused.append(item.filename)
            continue
        if len(kept) >= limits.max_files or total + len(item.data) > limits.max_total_bytes:
            refused.append(item.filename)
            continue
        kept.append(item)
        total += len(item.data)
    return kept, refused


def release(row: MailMessage, *, actor: str) -> IngestOutcome:
    """Record a quarantined message with status held, leaving refused files in the raw mail."""
    raw = row.raw_bytes
    if raw is None or row.release_state != "pending":
        raise ValueError("not a pending quarantined message")
    parsed = parse_message(raw, max_bytes=max(len(raw) + 1, 1))
    mail = _Incoming(raw=raw, parsed=parsed, source=row.source, received_at=row.received_at)
    kept, refused = accepted_attachments(parsed)
    note = f"隔离邮件由工作人员放行（原因：{row.reason or '未知'}）"
    if refused:
        note += "；未接收的附件保留在原始邮件中：" + "、".join(refused)
    row_id = row.id
    reason = row.reason
    receipt_outcome = _record_released(mail, kept, note, actor)
    row = db.session.get(MailMessage, row_id)
    assert row is not None
    row.release_state = "released"
    row.released_at = datetime.now(UTC)
    row.released_by = actor
    row.code = receipt_outcome.code
    if receipt_outcome.code:
        row.submission_id = db.session.scalar(
            select(Submission.id).where(Submission.code == receipt_outcome.code)
        )
    audit.record(
        "mail.release",
        object_type="mail_message",
        object_id=row_id,
        details={"reason": reason, "code": receipt_outcome.code, "refused": refused},
        actor=actor,
    )
    db.session.commit()
    return receipt_outcome


def _record_released(
    mail: _Incoming, kept: list[IncomingFile], note: str, actor: str
) -> IngestOutcome:
    for attachments in (kept, []):
        try:
            receipt = record_submission(
                Incoming(
                    channel="email",
                    body=mail.parsed.text or (NO_TEXT_BODY if kept else UNREADABLE_BODY),
                    body_html=mail.parsed.html,
                    notice=intake_notice(),
                    subject=mail.parsed.subject or None,
                    attachments=attachments,
                    received_at=mail.received_at,
                    status="held",
                    hold_reason=note,
                    sender_email=_valid_sender(mail.parsed.sender),
                    message_id=mail.message_id,
                    dedupe_key=mail.hash_key,
                    raw_message=mail.raw,
                    actor=actor,
                )
            )
        except DuplicateSubmission as exc:
            return IngestOutcome("duplicate", code=exc.code)
        except SubmissionRejected as exc:
            if "attachments" in exc.errors and attachments:
                continue  # together they break a limit: keep all of them in the raw mail only
            raise ValueError(one_line(str(exc))) from exc
        return IngestOutcome("recorded", code=receipt.code)
    raise ValueError("could not record the released message")


def _valid_sender(sender: str | None) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    if not sender:
        return None
    try:
        validate_email(sender, check_deliverability=False)
    except EmailNotValidError:
        return None
    return sender


def delete(row: MailMessage, *, actor: str) -> None:
    """Drop a quarantined message's content; a tombstone keeps it from coming back on rescan."""
    row_id, reason = row.id, row.reason
    row.raw = None
    row.sender = None
    row.subject = None
    row.release_state = "deleted"
    row.released_at = datetime.now(UTC)
    row.released_by = actor
    audit.record(
        "mail.delete",
        object_type="mail_message",
        object_id=row_id,
        details={"reason": reason},
        actor=actor,
    )
    db.session.commit()
