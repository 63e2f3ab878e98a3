"""THE one door: every channel records a submission through record_submission().

One transaction: validate, normalise text, store attachments, issue the receipt, link findings,
write the audit event, enqueue the acknowledgement, commit. Any failure rolls back the database
and removes the files written by this call, so nothing is half-recorded and no file is orphaned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake import offline, receipts
from portal.intake.acknowledgement import enqueue_acknowledgement
from portal.intake.limits import SUBJECT_MAX
from portal.intake.models import (
    CHANNELS,
    INITIAL_STATUSES,
    Attachment,
    FollowUp,
    Submission,
    SubmissionFinding,
)
from portal.intake.sanitize import clean_html
from portal.intake.validation import (
    check_attachments,
    check_body,
    check_contact,
    check_email,
    check_findings,
    clean_text,
)
from portal.notices.models import Notice
from portal.offices.models import Office
from portal.offices.service import ack_workdays, default_office, reply_workdays
from portal.personal_data import blind_index, derived_key
from portal.workdays import WorkCalendar, as_utc, local_date, utcnow

CODE_ATTEMPTS = 3
SECRET_KEY_PURPOSE = "receipt-secret"  # noqa: S105 - a label, not a secret


@dataclass
class IncomingFile:
    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None

    def is_empty(self) -> bool:
        return not any((self.name, self.phone, self.email, self.address))


@dataclass
class Incoming:
    """One submission as a channel hands it to the door, before validation.

    ``status`` is ``received``, or ``held``/``spam`` when the channel already knows (captcha
    down, honeypot); ``late`` None lets the door decide from the notice's feedback window and
    ``postmarked_on``; ``dedupe_key``/``message_id`` refuse a second record of the same thing."""

    channel: str
    body: str
    notice: Notice | None
    subject: str | None = None
    findings: Sequence[int] = ()
    contact: Contact | None = None
    anonymous: bool = False
    consent: bool = False
    attachments: Sequence[IncomingFile] = ()
    received_at: datetime | None = None
    status: str = "received"
    hold_reason: str | None = None
    late: bool | None = None
    postmarked_on: date | None = None
    sender_email: str | None = None
    message_id: str | None = None
    dedupe_key: str | None = None
    channel_details: dict[str, Any] | None = None
    actor: str | None = None
    body_html: str | None = None
    # The office that must answer when there is no notice (a notice decides by itself);
    # None takes the default office unless ``unrouted``: then the inspection office routes it.
    office_id: int | None = None
    unrouted: bool = False


@dataclass(frozen=True)
class Receipt:
    code: str
    secret: str = field(repr=False)
    submission_id: int


class SubmissionRejected(ValueError):
    """Validation failed; ``errors`` maps form field names to Chinese messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class DuplicateSubmission(Exception):
    """The same mail (Message-ID) or dedupe key was recorded before, as ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__(f"already recorded as {code}")
        self.code = code


@functools.lru_cache(maxsize=256)
def _due_on(calendar: WorkCalendar, received_on: date, workdays: int) -> date:
    # chinese_calendar costs ~1 ms per lookup; every submission of a day shares the answer.
    return calendar.add_workdays(received_on, workdays)


def _secret_key() -> bytes:
    return derived_key(SECRET_KEY_PURPOSE)


def find_by_code(code: str) -> Submission | None:
    chars = receipts.normalise_code(code)
    if chars is None:
        return None
    return db.session.scalar(
        select(Submission).where(Submission.code == receipts.format_code(chars))
    )


def audit_personal_data_view(submission: Submission, reason: str, fields: list[str]) -> None:
    """Seeing decrypted personal data is an event with a reason (caller commits)."""
    audit.record(
        "personal_data.view",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "reason": reason, "fields": fields},
    )


def find_by_code_or_404(code: str) -> Submission:
    """For staff views: the submission with this receipt code, or a 404 page."""
    submission = find_by_code(code)
    if submission is None:
        abort(404)
    return submission


def check_secret(submission: Submission | None, secret: str) -> bool:
    """Constant time; a missing submission costs the same as a wrong secret."""
    if submission is None:
        receipts.verify_secret(secret, "", code="0000000000", key=_secret_key())
        return False
    return receipts.verify_secret(
        secret, submission.secret_hash, code=submission.code, key=_secret_key()
    )


def require_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise SubmissionRejected({"channel": _("未知的渠道“%(channel)s”。", channel=channel)})


def _raise_if_duplicate(message_id: str | None, dedupe_key: str | None) -> None:
    for column, value in ((Submission.message_id, message_id), (Submission.dedupe_key, dedupe_key)):
        if value:
            code = db.session.scalar(select(Submission.code).where(column == value))
            if code:
                raise DuplicateSubmission(code)


def _new_code() -> str:
    # 32^10 codes: a clash is astronomically rare, but checking costs one indexed lookup.
    for _attempt in range(8):
        code = receipts.generate_code()
        if db.session.scalar(select(Submission.id).where(Submission.code == code)) is None:
            return code
    raise RuntimeError("could not find a free receipt code")


@dataclass
class _Checked:
    """What validation made of an Incoming: the values the new row is built from."""

    body: str
    contact: Contact
    sender: str | None
    findings: list[tuple[int, int]]  # (number, finding id)
    attachments: list[files.CheckedFile]
    message_id: str | None
    dedupe_key: str | None


# --- the one door -----------------------------------------------------------------------------


def record_submission(
    incoming: Incoming,
    *,
    commit: bool = True,
    before_commit: Callable[[Submission], None] | None = None,
) -> Receipt:
    """Record one submission from any channel and commit; see the module docstring.

    ``before_commit`` receives the flushed submission (its id and code are set) and may add the
    caller's own rows to the same transaction, such as the inbound mail's record: they commit
    with the submission or not at all.

    ``commit=False`` (the bulk letter import): flush only, so the caller can record many rows
    and commit them together; any failure here still rolls back the whole session, which keeps
    the caller's batch all-or-nothing. No attachments then: their files could not be removed
    if the caller rolled back later.
    """
    channel, status = incoming.channel, incoming.status
    if not commit and incoming.attachments:
        raise ValueError("record_submission(commit=False) takes no attachments")
    require_channel(channel)
    if status not in INITIAL_STATUSES:
        raise SubmissionRejected({"status": _("不能以状态“%(status)s”登记。", status=status)})
    message_id = (incoming.message_id or "").strip() or None
    dedupe_key = (incoming.dedupe_key or "").strip() or None
    _raise_if_duplicate(message_id, dedupe_key)

    errors: dict[str, str] = {}
    checks = _Checked(
        body=check_body(incoming.body, channel, errors),
        contact=check_contact(
            incoming.contact or Contact(), channel, incoming.anonymous, incoming.consent, errors
        ),
        sender=(
            check_email(incoming.sender_email, "sender_email", errors)
            if incoming.sender_email
            else None
        ),
        findings=check_findings(incoming.notice, incoming.findings, errors),
        attachments=check_attachments(incoming.attachments, errors),
        message_id=message_id,
        dedupe_key=dedupe_key,
    )
    if errors:
        db.session.rollback()
        raise SubmissionRejected(errors)

    received = as_utc(incoming.received_at) if incoming.received_at is not None else utcnow()
    for attempt in range(1, CODE_ATTEMPTS + 1):
        store = files.StoreTransaction()
        try:
            for item in checks.attachments:
                store.store(item)
            submission, secret = _insert(incoming, checks, received, check_code=not commit)
            db.session.flush()
            audit.record(
                "submission.record",
                object_type="submission",
                object_id=submission.id,
                details={
                    "channel": channel,
                    "status": status,
                    "findings": [number for number, _id in checks.findings],
                    "attachments": len(checks.attachments),
                },
                actor=incoming.actor,
            )
            if submission.email and status != "spam":
                enqueue_acknowledgement(submission, in_reply_to=message_id)
            if before_commit is not None:
                before_commit(submission)
            # Taken before commit expires the object: no reload round trip for the caller.
            receipt = Receipt(code=submission.code, secret=secret, submission_id=submission.id)
            if commit:
                db.session.commit()
            else:
                db.session.flush()
        except IntegrityError:
            discard(store)
            # A concurrent twin (same Message-ID or dedupe key) won the race...
            _raise_if_duplicate(message_id, dedupe_key)
            # ...or, once in ~10^15, the receipt code was taken: draw another one.
            if not commit or attempt == CODE_ATTEMPTS:
                raise
            continue
        except BaseException:
            discard(store)
            raise
        store.after_commit()
        return receipt
    raise AssertionError("unreachable")


def _late(incoming: Incoming, received: datetime) -> bool:
    """After the notice's feedback window; a letter counts by its postmark date (local)."""
    if incoming.late is not None:
        return incoming.late
    notice = incoming.notice
    if notice is None or notice.feedback_closes_at is None:
        return False
    return offline.is_late(as_utc(notice.feedback_closes_at), received, incoming.postmarked_on)


def discard(store: files.StoreTransaction) -> None:
    """Roll the session back and remove the files this transaction wrote."""
    db.session.rollback()
    hashes = {path.name for path in store.created}
    referenced: set[str] = set()
    if hashes:
        # A concurrent submission of the same file may have committed meanwhile: keep its file.
        referenced = set(
            db.session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(hashes)))
        )
        db.session.rollback()
    store.rollback(referenced)


def _insert(
    incoming: Incoming, checks: _Checked, received: datetime, *, check_code: bool
) -> tuple[Submission, str]:
    config = current_app.config
    calendar = WorkCalendar.from_config(config)
    # With our own commit a clash surfaces as IntegrityError and is retried; a caller's batch
    # (commit=False) cannot be retried, so look first (one indexed lookup).
    code = _new_code() if check_code else receipts.generate_code()
    secret = receipts.generate_secret()
    contact, sender = checks.contact, checks.sender
    lookup_address = sender or contact.email
    subject, hold_reason = incoming.subject, incoming.hold_reason
    received_on = local_date(received)
    office = _office_of(incoming)
    submission = Submission(
        code=code,
        secret_hash=receipts.hash_secret(secret, code=code, key=_secret_key()),
        channel=incoming.channel,
        status=incoming.status,
        subject=(clean_text(subject)[:SUBJECT_MAX] or None) if subject else None,
        body=checks.body,
        body_html=clean_html(incoming.body_html) if incoming.body_html else None,
        notice_id=_notice_id(incoming.notice),
        office_id=office.id if office is not None else None,
        received_at=received,
        postmarked_on=incoming.postmarked_on,
        late=_late(incoming, received),
        anonymous=incoming.anonymous,
        consent_at=received if incoming.consent else None,
        contact_name=contact.name,
        contact_phone=contact.phone,
        contact_email=contact.email,
        contact_address=contact.address,
        sender_email=sender,
        sender_hash=blind_index(lookup_address) if lookup_address else None,
        message_id=checks.message_id,
        dedupe_key=checks.dedupe_key,
        channel_details=incoming.channel_details,
        hold_reason=clean_text(hold_reason)[:500] or None if hold_reason else None,
        ack_due_on=_due_on(calendar, received_on, ack_workdays(office)),
        reply_due_on=_due_on(calendar, received_on, reply_workdays(office)),
    )
    for _number, finding_id in checks.findings:
        submission.finding_links.append(
            SubmissionFinding(
                finding_id=finding_id, source="submitter", confirmed=False, by="submitter"
            )
        )
    for item in checks.attachments:
        submission.attachments.append(attachment_row(item))
    # No flush yet: findings and attachments join the same INSERT batch (a flushed object
    # would first SELECT its empty collections).
    db.session.add(submission)
    return submission, secret


def _office_of(incoming: Incoming) -> Office | None:
    """The office that must answer: the notice's, else the channel's, else the default one."""
    if incoming.unrouted and incoming.notice is None:
        return None
    office_id = incoming.office_id
    if incoming.notice is not None:
        state = inspect(incoming.notice)
        office_id = state.dict.get("office_id") or incoming.notice.office_id
    if office_id is None:
        return default_office()
    return db.session.get(Office, office_id)


def _notice_id(notice: Notice | None) -> int | None:
    """The notice's id without reloading it when the caller's commit expired it."""
    if notice is None:
        return None
    identity = inspect(notice).identity
    return int(identity[0]) if identity else notice.id


def attachment_row(
    item: files.CheckedFile, *, submission_id: int | None = None, follow_up: FollowUp | None = None
) -> Attachment:
    return Attachment(
        submission_id=submission_id,
        filename=item.filename,
        content_type=item.content_type,
        size=item.size,
        sha256=item.sha256,
        follow_up=follow_up,
    )
