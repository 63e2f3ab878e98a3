"""THE one door: every channel records a submission through record_submission().

One transaction: validate, normalise text, store attachments, issue the receipt, link findings,
write the audit event, enqueue the acknowledgement, commit. Any failure rolls back the database
and removes the files written by this call, so nothing is half-recorded and no file is orphaned.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import abort, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake import offline, receipts
from portal.intake.limits import (
    ADDRESS_MAX,
    NAME_MAX,
    OTHER_BODY_MAX,
    PHONE,
    SUBJECT_MAX,
    WEB_BODY_MAX,
    WEB_BODY_MIN,
    body_max,
)
from portal.intake.models import (
    CHANNELS,
    INITIAL_STATUSES,
    Attachment,
    FollowUp,
    Submission,
    SubmissionFinding,
)
from portal.notices.models import Finding, Notice
from portal.personal_data import (
    blind_index,
    derived_key,
    mask_address,
    mask_email,
    mask_name,
    mask_phone,
)
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
    raw_message: bytes | None = None
    actor: str | None = None
    body_html: str | None = None


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


# --- helpers ---------------------------------------------------------------------------------


def _normalise(text: str | None) -> str:
    from portal.intake.sanitize import normalise_text

    return normalise_text(text or "").strip()


def _clean_html(html_text: str) -> str:
    from portal.intake.sanitize import clean_html

    return clean_html(html_text)


@functools.lru_cache(maxsize=256)
def _due_on(calendar: WorkCalendar, received_on: date, workdays: int) -> date:
    # chinese_calendar costs ~1 ms per lookup; every submission of a day shares the answer.
    return calendar.add_workdays(received_on, workdays)


def _secret_key() -> bytes:
    return derived_key(SECRET_KEY_PURPOSE)


def format_code(raw: str) -> str:
    """Display form XXXXX-XXXXX of a code typed in any case, with or without the hyphen."""
    return receipts.format_code(raw)


def find_by_code(code: str) -> Submission | None:
    chars = receipts.normalise_code(code)
    if chars is None:
        return None
    return db.session.scalar(select(Submission).where(Submission.code == format_code(chars)))


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


def compute_late(
    notice: Notice | None, received_at: datetime, postmarked_on: date | None = None
) -> bool:
    """After the notice's feedback window; a letter counts by its postmark date (local)."""
    if notice is None or notice.feedback_closes_at is None:
        return False
    return offline.is_late(as_utc(notice.feedback_closes_at), received_at, postmarked_on)


# --- validation ------------------------------------------------------------------------------


def _validate_body(body: str, channel: str, errors: dict[str, str]) -> str:
    text = _normalise(body)
    if channel == "web":
        if len(text) < WEB_BODY_MIN:
            errors["body"] = _("意见内容至少需要%(n)s个字。", n=WEB_BODY_MIN)
        elif len(text) > WEB_BODY_MAX:
            errors["body"] = _(
                "意见内容不能超过%(max)s个字（现有%(n)s个字）。", max=WEB_BODY_MAX, n=len(text)
            )
    elif not text:
        errors["body"] = _("意见内容不能为空。")
    elif len(text) > OTHER_BODY_MAX:
        errors["body"] = _("意见内容不能超过%(max)s个字。", max=OTHER_BODY_MAX)
    return text


def _validate_email(value: str | None, field_name: str, errors: dict[str, str]) -> str | None:
    text = _normalise(value)
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        errors[field_name] = _("邮箱地址格式不正确，请检查。")
        return text


def _validate_contact(
    contact: Contact | None, channel: str, anonymous: bool, consent: bool, errors: dict[str, str]
) -> Contact:
    raw = contact or Contact()
    cleaned = Contact(
        name=_normalise(raw.name) or None,
        phone=_normalise(raw.phone) or None,
        email=_validate_email(raw.email, "contact_email", errors),
        address=_normalise(raw.address) or None,
    )
    if cleaned.name and len(cleaned.name) > NAME_MAX:
        errors["contact_name"] = _("姓名不能超过%(max)s个字。", max=NAME_MAX)
    if cleaned.address and len(cleaned.address) > ADDRESS_MAX:
        errors["contact_address"] = _("地址不能超过%(max)s个字。", max=ADDRESS_MAX)
    if cleaned.phone and not PHONE.match(cleaned.phone):
        errors["contact_phone"] = _("电话号码格式不正确，请填写手机号码或带区号的固定电话。")
    if channel == "web" and not cleaned.is_empty():
        if anonymous:
            errors["anonymous"] = _("选择匿名提交时请不要填写联系方式。")
        elif not consent:
            errors["consent"] = _("填写了联系方式时，请先阅读并同意个人信息处理说明。")
    return cleaned


def _validate_findings(
    notice: Notice | None, numbers: Sequence[int], errors: dict[str, str]
) -> list[tuple[int, int]]:
    """(number, finding id) for each chosen finding, in the submitter's order."""
    wanted: list[int] = []
    for number in numbers:
        try:
            value = int(number)
        except (TypeError, ValueError):
            errors["findings"] = _("问题编号“%(number)s”无效。", number=number)
            return []
        if value not in wanted:
            wanted.append(value)
    if not wanted:
        return []
    if notice is None:
        errors["findings"] = _("未指定公示，无法关联问题编号。")
        return []
    active = _active_findings(notice)
    unknown = [n for n in wanted if n not in active]
    if unknown:
        errors["findings"] = _(
            "公示中没有编号为%(numbers)s的问题。", numbers=_("、").join(map(str, unknown))
        )
        return []
    return [(n, active[n]) for n in wanted]


def _active_findings(notice: Notice) -> dict[int, int]:
    """{number: id} of the notice's active findings, kept per notice version in the app: every
    web submission checks its findings, and they change only with a new version."""
    notice_id = _notice_id(notice)
    cache = current_app.extensions.setdefault("portal.intake.active_findings", {})
    key = (notice_id, notice.version)
    found = cache.get(key)
    if found is None:
        rows = db.session.execute(
            select(Finding.number, Finding.id).where(Finding.notice_id == notice_id, Finding.active)
        )
        found = {number: finding_id for number, finding_id in rows}
        if len(cache) > 256:
            cache.clear()
        cache[key] = found
    return found


def _check_attachments(
    incoming: Sequence[IncomingFile], errors: dict[str, str]
) -> list[files.CheckedFile]:
    try:
        return files.check_files(incoming, files.Limits.from_config(current_app.config))
    except files.AttachmentRefused as exc:
        errors["attachments"] = exc.message
        return []


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


# --- the one door -----------------------------------------------------------------------------


def record_submission(incoming: Incoming, *, commit: bool = True) -> Receipt:
    """Record one submission from any channel and commit; see the module docstring.

    ``commit=False`` (bulk letter import, issue 7): flush only, so the caller can record many
    rows and commit them together; any failure here still rolls back the whole session, which
    keeps the caller's batch all-or-nothing. No attachments then: their files could not be
    removed if the caller rolled back later.
    """
    channel, notice, status = incoming.channel, incoming.notice, incoming.status
    attachments, received_at = incoming.attachments, incoming.received_at
    if not commit and attachments:
        raise ValueError("record_submission(commit=False) takes no attachments")
    if channel not in CHANNELS:
        raise SubmissionRejected({"channel": _("未知的渠道“%(channel)s”。", channel=channel)})
    if status not in INITIAL_STATUSES:
        raise SubmissionRejected({"status": _("不能以状态“%(status)s”登记。", status=status)})
    message_id = (incoming.message_id or "").strip() or None
    dedupe_key = (incoming.dedupe_key or "").strip() or None
    _raise_if_duplicate(message_id, dedupe_key)

    errors: dict[str, str] = {}
    text = _validate_body(incoming.body, channel, errors)
    cleaned_contact = _validate_contact(
        incoming.contact, channel, incoming.anonymous, incoming.consent, errors
    )
    sender_email = incoming.sender_email
    sender = _validate_email(sender_email, "sender_email", errors) if sender_email else None
    linked = _validate_findings(notice, incoming.findings, errors)
    checked = _check_attachments(attachments, errors)
    if errors:
        db.session.rollback()
        raise SubmissionRejected(errors)

    received = as_utc(received_at) if received_at is not None else utcnow()
    for attempt in range(1, CODE_ATTEMPTS + 1):
        store = files.StoreTransaction()
        try:
            for item in checked:
                store.store(item)
            submission, secret = _insert(
                channel=channel,
                body=text,
                body_html=incoming.body_html,
                notice=notice,
                subject=incoming.subject,
                contact=cleaned_contact,
                anonymous=incoming.anonymous,
                consent=incoming.consent,
                received=received,
                status=status,
                hold_reason=incoming.hold_reason,
                late=_late(incoming, received),
                postmarked_on=incoming.postmarked_on,
                sender=sender,
                message_id=message_id,
                dedupe_key=dedupe_key,
                channel_details=incoming.channel_details,
                raw_message=incoming.raw_message,
                check_code=not commit,
            )
            _link_findings(submission, linked)
            _add_attachments(submission, checked)
            db.session.flush()
            audit.record(
                "submission.record",
                object_type="submission",
                object_id=submission.id,
                details={
                    "channel": channel,
                    "status": status,
                    "findings": [number for number, _id in linked],
                    "attachments": len(checked),
                },
                actor=incoming.actor,
            )
            if submission.email and status != "spam":
                enqueue_acknowledgement(submission, in_reply_to=message_id)
            # Taken before commit expires the object: no reload round trip for the caller.
            receipt = Receipt(code=submission.code, secret=secret, submission_id=submission.id)
            if commit:
                db.session.commit()
            else:
                db.session.flush()
        except IntegrityError:
            _undo(store)
            # A concurrent twin (same Message-ID or dedupe key) won the race...
            _raise_if_duplicate(message_id, dedupe_key)
            # ...or, once in ~10^15, the receipt code was taken: draw another one.
            if not commit or attempt == CODE_ATTEMPTS:
                raise
            continue
        except BaseException:
            _undo(store)
            raise
        store.after_commit()
        return receipt
    raise AssertionError("unreachable")


def _late(incoming: Incoming, received: datetime) -> bool:
    if incoming.late is not None:
        return incoming.late
    return compute_late(incoming.notice, received, incoming.postmarked_on)


def _undo(store: files.StoreTransaction) -> None:
    db.session.rollback()
    hashes = {path.name for path in store.created}
    referenced = set()
    if hashes:
        # A concurrent submission of the same file may have committed meanwhile: keep its file.
        referenced = set(
            db.session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(hashes)))
        )
        db.session.rollback()
    store.rollback(referenced)


def _insert(
    *,
    channel: str,
    body: str,
    body_html: str | None,
    notice: Notice | None,
    subject: str | None,
    contact: Contact,
    anonymous: bool,
    consent: bool,
    received: datetime,
    status: str,
    hold_reason: str | None,
    late: bool,
    postmarked_on: date | None,
    sender: str | None,
    message_id: str | None,
    dedupe_key: str | None,
    channel_details: dict[str, Any] | None,
    raw_message: bytes | None,
    check_code: bool,
) -> tuple[Submission, str]:
    calendar = WorkCalendar.from_config(current_app.config)
    config = current_app.config
    # With our own commit a clash surfaces as IntegrityError and is retried; a caller's batch
    # (commit=False) cannot be retried, so look first (one indexed lookup).
    code = _new_code() if check_code else receipts.generate_code()
    secret = receipts.generate_secret()
    lookup_address = sender or contact.email
    submission = Submission(
        code=code,
        secret_hash=receipts.hash_secret(secret, code=code, key=_secret_key()),
        channel=channel,
        status=status,
        subject=(_normalise(subject)[:SUBJECT_MAX] or None) if subject else None,
        body=body,
        body_html=_clean_html(body_html) if body_html else None,
        notice_id=_notice_id(notice),
        received_at=received,
        postmarked_on=postmarked_on,
        late=bool(late),
        anonymous=anonymous,
        consent_at=received if consent else None,
        contact_name=contact.name,
        contact_phone=contact.phone,
        contact_email=contact.email,
        contact_address=contact.address,
        sender_email=sender,
        sender_hash=blind_index(lookup_address) if lookup_address else None,
        message_id=message_id,
        dedupe_key=dedupe_key,
        channel_details=channel_details,
        hold_reason=_normalise(hold_reason)[:500] or None if hold_reason else None,
        ack_due_on=_due_on(calendar, local_date(received), int(config["ACK_WITHIN_WORKDAYS"])),
        reply_due_on=_due_on(calendar, local_date(received), int(config["REPLY_WITHIN_WORKDAYS"])),
        raw_message=zlib.compress(raw_message, 6) if raw_message is not None else None,
    )
    # No flush yet: findings and attachments join the same INSERT batch (a flushed object
    # would first SELECT its empty collections).
    db.session.add(submission)
    return submission, secret


def _notice_id(notice: Notice | None) -> int | None:
    """The notice's id without reloading it when the caller's commit expired it."""
    if notice is None:
        return None
    identity = inspect(notice).identity
    return int(identity[0]) if identity else notice.id


def _link_findings(submission: Submission, linked: Sequence[tuple[int, int]]) -> None:
    for _number, finding_id in linked:
        submission.finding_links.append(
            SubmissionFinding(
                finding_id=finding_id, source="submitter", confirmed=False, by="submitter"
            )
        )


def _add_attachments(
    submission: Submission,
    checked: Sequence[files.CheckedFile],
    follow_up: FollowUp | None = None,
) -> None:
    for item in checked:
        submission.attachments.append(_attachment_row(item, follow_up=follow_up))


def _attachment_row(
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


def enqueue_acknowledgement(submission: Submission, *, in_reply_to: str | None = None) -> None:
    """The zh-CN acknowledgement, in the outbox within the caller's transaction (no secret)."""
    from portal.outbox import enqueue

    context = {
        "submission": submission,
        "code": submission.code,
        "office_name": current_app.config.get("OFFICE_NAME", ""),
        "ack_within": current_app.config["ACK_WITHIN_WORKDAYS"],
        "reply_within": current_app.config["REPLY_WITHIN_WORKDAYS"],
        "reply_due_on": submission.reply_due_on,
        "received_on": local_date(submission.received_at),
        "track_url": current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/track",
    }
    enqueue(
        to=submission.email or "",
        subject=f"[#{submission.code}] 您的意见已收到",
        text=render_template("outbox/ack.txt", **context),
        html=render_template("outbox/ack.html", **context),
        submission_id=submission.id,
        submission_code=submission.code,
        kind="ack",
        in_reply_to=in_reply_to,
    )


# --- personal data on screen ----------------------------------------------------------------


def masked_contact(submission: Submission) -> Contact:
    """What lists show: 李**, 138****1234, z***@qq.com (no audit event needed)."""
    return Contact(
        name=mask_name(submission.contact_name) or None,
        phone=mask_phone(submission.contact_phone) or None,
        email=mask_email(submission.email) or None,
        address=mask_address(submission.contact_address) or None,
    )


# --- follow-ups ----------------------------------------------------------------------------


def add_follow_up(
    submission: Submission,
    *,
    body: str,
    channel: str,
    attachments: Sequence[IncomingFile] = (),
    author: str = "submitter",
    message_id: str | None = None,
    actor: str | None = None,
) -> FollowUp:
    """Add information or files to an existing submission and commit."""
    if channel not in CHANNELS:
        raise SubmissionRejected({"channel": _("未知的渠道“%(channel)s”。", channel=channel)})
    message_id = (message_id or "").strip() or None
    if message_id:
        exists = db.session.scalar(
            select(FollowUp.id).where(FollowUp.message_id == message_id)
        ) or db.session.scalar(select(Submission.id).where(Submission.message_id == message_id))
        if exists:
            raise DuplicateSubmission(submission.code)
    errors: dict[str, str] = {}
    text = _normalise(body)
    checked = _check_attachments(attachments, errors)
    if not text and not checked and "attachments" not in errors:
        errors["body"] = _("请填写补充内容或上传附件。")
    elif len(text) > body_max(channel):
        errors["body"] = _("补充内容不能超过%(max)s个字。", max=body_max(channel))
    if errors:
        db.session.rollback()
        raise SubmissionRejected(errors)

    store = files.StoreTransaction()
    try:
        for item in checked:
            store.store(item)
        follow_up = FollowUp(
            submission=submission,
            at=datetime.now(UTC),
            channel=channel,
            author=author,
            body=text,
            message_id=message_id,
        )
        db.session.add(follow_up)
        for item in checked:
            db.session.add(_attachment_row(item, submission_id=submission.id, follow_up=follow_up))
        db.session.flush()
        audit.record(
            "submission.follow_up",
            object_type="submission",
            object_id=submission.id,
            details={"channel": channel, "author": author, "attachments": len(checked)},
            actor=actor,
        )
        db.session.commit()
    except BaseException:
        _undo(store)
        raise
    store.after_commit()
    return follow_up
