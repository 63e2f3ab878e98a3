"""Raw mail -> submissions, through the one door: dedupe, threading, bounces, recording.

``ingest(raw)`` decides what one message is; ``IngestOutcome.line()`` is the DESIGN.md contract
line. Every distinct message leaves one MailMessage row holding its raw bytes, committed in the
same transaction as the submission or follow-up it becomes. A message from an office's own
mailbox belongs to that office; one from the shared mailbox is routed (store.route_mail); a reply
to our mail stays with the office of the submission it answers. When the database itself fails the
raw message goes to the spool (quarantine.spool) and MailStoreError is raised, so the MTA (or the
IMAP mark) retries and nothing is lost.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db
from portal.intake.follow_ups import OTHER_SENDER, add_follow_up
from portal.intake.mail.headers import find_receipt_code
from portal.intake.mail.models import MailMessage
from portal.intake.mail.parse import ParsedMail, parse_message
from portal.intake.mail.quarantine import spool, spool_folder, spooled_office
from portal.intake.mail.routing import Route
from portal.intake.mail.store import (
    InboundMail,
    IngestOutcome,
    MailStoreError,
    RefusedFile,
    body_text,
    filter_files,
    mail_row,
    record_mail,
    route_mail,
    store,
)
from portal.intake.models import FollowUp, Submission
from portal.intake.service import DuplicateSubmission, SubmissionRejected, find_by_code
from portal.outbox.models import OutboxMessage


def ingest(
    raw: bytes,
    *,
    source: str = "pipe",
    received_at: datetime | None = None,
    office_id: int | None = None,
) -> IngestOutcome:
    """Turn one raw RFC 5322 message into an outcome; commits. Raises only MailStoreError.

    ``office_id``: the office whose own mailbox it came from; None routes it (the shared
    mailbox, a pipe)."""
    try:
        return _ingest(bytes(raw), source=source, received_at=received_at, office_id=office_id)
    except MailStoreError:
        raise
    except SQLAlchemyError as exc:
        _rollback()
        raise MailStoreError(f"database error: {exc}", spool(raw, office_id)) from exc
    except Exception as exc:  # a bug must not lose the message: quarantine it instead
        _rollback()
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return _quarantine_or_spool(raw, source, reason, office_id)


def drain_spool() -> list[tuple[Path, IngestOutcome]]:
    """Ingest every spooled message; each file is removed once its outcome is committed."""
    folder = spool_folder()
    done: list[tuple[Path, IngestOutcome]] = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        raw, office_id = path.read_bytes(), spooled_office(path)
        outcome = _ingest(raw, source="spool", received_at=None, office_id=office_id)
        path.unlink()
        done.append((path, outcome))
    return done


def _ingest(
    raw: bytes, *, source: str, received_at: datetime | None, office_id: int | None = None
) -> IngestOutcome:
    parsed = parse_message(raw, max_bytes=int(current_app.config["MAIL_MAX_BYTES"]))
    mail = InboundMail(
        raw=raw, parsed=parsed, source=source, received_at=received_at, office_id=office_id
    )
    seen = _seen_before(mail)
    if seen is not None:
        return seen
    if parsed.quarantine_reason:
        outcome = IngestOutcome("quarantined", reason=parsed.quarantine_reason)
        return store(mail, outcome, route_mail(mail).office_id)
    if parsed.auto_reason:
        return store(mail, _ignore(parsed), route_mail(mail, guess=False).office_id)
    submission = _thread_target(parsed)
    if submission is not None:
        # A reply stays with the office answering it, whichever mailbox it arrived in.
        return _thread(mail, submission)
    return _record(mail, route_mail(mail))


def _seen_before(mail: InboundMail) -> IngestOutcome | None:
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
    # A message recorded through another path with the same Message-ID is caught by
    # record_submission / add_follow_up raising DuplicateSubmission.
    return None


def _is_bounce(parsed: ParsedMail) -> bool:
    reason = (parsed.auto_reason or "").lower()
    return (
        bool(parsed.bounced_message_ids)
        or reason.startswith("bounce")
        or reason in ("mailer-daemon", "postmaster")
    )


def _ignore(parsed: ParsedMail) -> IngestOutcome:
    """Machine mail is never answered; a bounce marks the outbox rows it names as bounced."""
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


def _thread(mail: InboundMail, submission: Submission) -> IngestOutcome:
    limit = int(current_app.config["MAIL_REOPENS_PER_HOUR"])
    office_id = submission.office_id
    if mail.sender_hash and _reopens_in_last_hour(mail.sender_hash) >= limit:
        return store(mail, IngestOutcome("quarantined", reason="rate limit"), office_id)
    code, submission_id = submission.code, submission.id
    outcome = IngestOutcome("threaded", code=code)

    def keep_mail(_follow_up: FollowUp) -> None:
        db.session.add(mail_row(mail, outcome, submission_id, office_id))

    files, refused = filter_files(mail)
    if any(r.dangerous for r in refused):
        reason = "attachment refused: " + "".join(r.reason for r in refused if r.dangerous)
        return store(mail, IngestOutcome("quarantined", reason=reason), office_id)
    # The receipt code is not a secret and From: is easily forged: mail from an address other
    # than the submission's contact, or whose From: our server found forged, waits for staff
    # before it counts as the submitter's.
    same_sender = (
        bool(mail.sender_hash)
        and mail.sender_hash == submission.sender_hash
        and mail.parsed.auth_failure is None
    )
    try:
        add_follow_up(
            submission,
            body=mail.parsed.text,
            channel="email",
            attachments=files,
            author="submitter" if same_sender else OTHER_SENDER,
            message_id=mail.message_id,
            actor="mail",
            before_commit=keep_mail,
            review_state=None if same_sender else "held",
        )
    except DuplicateSubmission as exc:
        return store(mail, IngestOutcome("duplicate", code=exc.code), office_id)
    except SubmissionRejected as exc:
        return store(mail, _rejected(exc), office_id)
    return outcome


def _record(mail: InboundMail, route: Route) -> IngestOutcome:
    """Record the message with the files the rules accept; a harmless refused part (a GIF, an
    unknown type, one file too many) is set aside in the raw mail and named to staff and the
    citizen, while executable or hidden content still holds the whole message for staff.

    The files are sorted one by one only when the door refuses them together: most mail's
    files are all accepted, and each check (pictures are re-encoded) then runs once."""
    files, refused = mail.files(), list[RefusedFile]()
    filtered = not files
    office_id = route.office_id
    sender = mail.parsed.sender

    def keep_mail(submission: Submission) -> None:
        outcome = IngestOutcome("recorded", code=submission.code)
        db.session.add(mail_row(mail, outcome, submission.id, submission.office_id))

    for _attempt in range(3):
        try:
            receipt = record_mail(
                mail,
                body=body_text(mail.parsed, bool(files or mail.parsed.html)),
                attachments=files,
                sender=sender,
                actor="mail",
                before_commit=keep_mail,
                route=route,
                details=mail.mail_details(refused),
            )
        except DuplicateSubmission as exc:
            return store(mail, IngestOutcome("duplicate", code=exc.code), office_id)
        except SubmissionRejected as exc:
            retry = False
            if "attachments" in exc.errors and not filtered:
                files, refused = filter_files(mail)
                filtered = retry = True
                dangerous = [r for r in refused if r.dangerous]
                if dangerous:
                    reason = "attachment refused: " + "".join(r.reason for r in dangerous)
                    return store(mail, IngestOutcome("quarantined", reason=reason), office_id)
            if "sender_email" in exc.errors and sender:
                sender = None  # an unusable From address: record without it (raw keeps it)
                retry = True
            if retry and not set(exc.errors) - {"attachments", "sender_email"}:
                continue
            return store(mail, _rejected(exc), office_id)
        return IngestOutcome("recorded", code=receipt.code)
    raise AssertionError("unreachable")


def _rejected(exc: SubmissionRejected) -> IngestOutcome:
    """A message the door refused is quarantined, with the door's reason."""
    if "attachments" in exc.errors:
        return IngestOutcome(
            "quarantined", reason=f"attachment refused: {exc.errors['attachments']}"
        )
    detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    return IngestOutcome("quarantined", reason=f"rejected: {detail}")


def _rollback() -> None:
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()


def _quarantine_or_spool(
    raw: bytes, source: str, reason: str, office_id: int | None
) -> IngestOutcome:
    parsed = ParsedMail(dedupe_key="sha256:" + hashlib.sha256(raw).hexdigest())
    try:
        full = parse_message(raw)
        parsed.sender, parsed.subject, parsed.message_id = (
            full.sender,
            full.subject,
            full.message_id,
        )
    except Exception:  # noqa: S110 - headers are a courtesy here; the raw bytes are what matter
        pass
    mail = InboundMail(raw=raw, parsed=parsed, source=source, received_at=None)
    try:
        # Its mailbox's office, else unrouted: routing may be what failed.
        return store(mail, IngestOutcome("quarantined", reason=reason), office_id)
    except SQLAlchemyError as exc:
        _rollback()
        raise MailStoreError(f"database error: {exc}", spool(raw, office_id)) from exc
