"""Keeping one inbound message: its MailMessage row holds the raw bytes (their only copy), alone
or committed in one transaction with the submission or follow-up the message becomes.

Shared by the ingest path and by staff releasing quarantined mail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.intake import attachments as attachment_rules
from portal.intake.mail.models import MailMessage, Outcome, is_sealed, open_raw, seal_raw
from portal.intake.mail.parse import ParsedMail
from portal.intake.mail.routing import OfficeRef, Route, route_message
from portal.intake.models import Submission
from portal.intake.office_routing import guess_office
from portal.intake.service import Incoming, IncomingFile, Receipt, record_submission
from portal.notices.models import Notice
from portal.offices.service import all_offices, default_office
from portal.personal_data import blind_index

MESSAGE_ID_MAX = 500
NO_TEXT_BODY = "（邮件没有正文，请查看附件。）"
UNREADABLE_BODY = "（邮件正文无法解码，原始邮件已保存，请在后台查看。）"


@dataclass(frozen=True)
class IngestOutcome:
    kind: Outcome
    code: str | None = None
    reason: str | None = None

    def line(self) -> str:
        """The line `flask mail ingest` prints (a contract: DESIGN.md)."""
        if self.kind in ("recorded", "threaded", "duplicate"):
            return f"{self.kind} {self.code}"
        return f"{self.kind} {one_line(self.reason or 'unknown')}"


class MailStoreError(RuntimeError):
    """The message could not be stored in the database; ``spool_path`` holds its raw bytes."""

    def __init__(self, message: str, spool_path: Path | None) -> None:
        super().__init__(message)
        self.spool_path = spool_path


def body_text(parsed: ParsedMail, has_files: bool) -> str:
    """The submission's body: the mail's text, or a note saying why there is none."""
    return parsed.text or (NO_TEXT_BODY if has_files else UNREADABLE_BODY)


def one_line(text: str, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", text).strip() or "unknown"
    return flat[:limit]


@dataclass
class InboundMail:
    """One raw message with what the parser made of it, and where it came from: ``office_id``
    is the office whose own mailbox it arrived in (None: the shared mailbox or a pipe)."""

    raw: bytes
    parsed: ParsedMail
    source: str
    received_at: datetime | None
    office_id: int | None = None

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @cached_property
    def message_id(self) -> str | None:
        mid = (self.parsed.message_id or "").strip()
        if not mid:
            return None
        if len(mid) > MESSAGE_ID_MAX:  # absurd ids still dedupe, by hash
            return "sha256:" + hashlib.sha256(mid.encode("utf-8", "surrogatepass")).hexdigest()
        return mid

    @cached_property
    def dedupe_key(self) -> str:
        key = self.message_id or self.parsed.dedupe_key or ""
        if not key or len(key) > 200:
            return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return key

    @property
    def hash_key(self) -> str | None:
        """The content hash for mail without a Message-ID (Submission.dedupe_key)."""
        return None if self.message_id else self.dedupe_key

    @cached_property
    def sender_hash(self) -> str | None:
        sender = self.parsed.sender
        return blind_index(sender) if sender else None

    def files(self) -> list[IncomingFile]:
        return [IncomingFile(a.filename, a.data, a.content_type) for a in self.parsed.attachments]

    def mail_details(self, refused: Sequence[RefusedFile]) -> dict[str, Any]:
        """What staff read about the mail itself on the submission: signed, files set aside."""
        details: dict[str, Any] = {}
        if self.parsed.signed:
            details["mail_signed"] = self.parsed.signed
        if refused:
            details["refused_attachments"] = [
                {"filename": r.filename, "reason": r.reason} for r in refused
            ]
        return details


# What a refused file's bytes are that makes its whole message wait for staff: executable or
# hidden content is a reason to look at the message before anyone opens it.
DANGEROUS_KINDS = frozenset({"exe", "elf", "macho", "script", "macro"})


@dataclass(frozen=True)
class RefusedFile:
    filename: str
    reason: str  # the attachment rules' sentence naming the file (zh-CN)
    dangerous: bool


def filter_files(mail: InboundMail) -> tuple[list[IncomingFile], list[RefusedFile]]:
    """The one per-file filter of mail attachments (ingest and staff release): the files the
    intake rules accept one by one within the limits, and the others with their reason."""
    limits = attachment_rules.Limits.from_config(current_app.config)
    kept: list[IncomingFile] = []
    refused: list[RefusedFile] = []
    total = 0
    for index, item in enumerate(mail.files(), start=1):
        try:
            attachment_rules.check_file(item, index, limits)
        except attachment_rules.AttachmentRefused as exc:
            detection = attachment_rules.detect(item.data)
            dangerous = detection.refused in DANGEROUS_KINDS or detection.problem == "polyglot"
            refused.append(RefusedFile(item.filename, exc.message, dangerous))
            continue
        if len(kept) >= limits.max_files or total + len(item.data) > limits.max_total_bytes:
            reason = f"文件“{item.filename}”超出附件数量或总大小的上限，未接收。"
            refused.append(RefusedFile(item.filename, reason, False))
            continue
        kept.append(item)
        total += len(item.data)
    return kept, refused


def mail_row(
    mail: InboundMail,
    outcome: IngestOutcome,
    submission_id: int | None = None,
    office_id: int | None = None,
) -> MailMessage:
    """The MailMessage row of one distinct message, with its compressed raw bytes."""
    parsed = mail.parsed
    return MailMessage(
        message_id=mail.message_id,
        dedupe_key=mail.dedupe_key,
        sha256=mail.sha256,
        raw=seal_raw(mail.raw),
        size=len(mail.raw),
        source=mail.source[:20],
        outcome=outcome.kind,
        reason=one_line(outcome.reason, 500) if outcome.reason else None,
        code=outcome.code,
        office_id=office_id,
        submission_id=submission_id,
        sender=parsed.sender,
        sender_hash=mail.sender_hash,
        subject=(parsed.subject or "")[:300] or None,
        received_at=mail.received_at or datetime.now(UTC),
        release_state="pending" if outcome.kind == "quarantined" else "none",
    )


def seal_old_rows(batch: int = 200) -> int:
    """Encrypt the raw mail of rows stored before encryption (zlib alone), a batch per commit;
    returns how many. Rows read either way, so this can run at any time, more than once."""
    sealed, after = 0, 0
    while True:
        rows = list(
            db.session.scalars(
                select(MailMessage)
                .where(MailMessage.id > after, MailMessage.raw.is_not(None))
                .order_by(MailMessage.id)
                .limit(batch)
            )
        )
        if not rows:
            return sealed
        for row in rows:
            if row.raw is not None and not is_sealed(row.raw):
                row.raw = seal_raw(open_raw(row.raw))
                sealed += 1
        after = rows[-1].id
        db.session.commit()


def store(mail: InboundMail, outcome: IngestOutcome, office_id: int | None = None) -> IngestOutcome:
    """Keep a message that becomes no submission (duplicate, ignored, quarantined); commits."""
    db.session.add(mail_row(mail, outcome, office_id=office_id))
    db.session.commit()
    return outcome


# --- which office, which notice -------------------------------------------------------------------


def route_mail(mail: InboundMail, *, guess: bool = True) -> Route:
    """The office a message goes to: its mailbox's; in a one-office deployment the default
    office, as before offices existed; otherwise routing.route_message decides."""
    if mail.office_id is not None:
        return Route(mail.office_id, "mailbox")
    default = default_office()
    offices = [
        OfficeRef(o.id, o.name, o.short_name or "", tuple(o.addresses))
        for o in all_offices(active_only=True)
    ]
    if all(o.id == default.id for o in offices):
        return Route(default.id, "default")
    parsed = mail.parsed
    return route_message(
        recipients=[*parsed.delivered_to, *parsed.to],
        subject=parsed.subject,
        body=parsed.text,
        offices=offices,
        guess=(lambda text: guess_office(text, None)) if guess else None,
    )


def intake_notice(office_id: int | None = None) -> Notice | None:
    """The notice mail to ``office_id`` is about: its newest published notice, unless it is
    the default office and MAIL_NOTICE_SLUG names one (as before offices existed). Without an
    office: any office's newest, or the slug's."""
    slug = current_app.config.get("MAIL_NOTICE_SLUG")
    query = select(Notice).where(Notice.state == "published")
    if office_id is not None:
        if slug and office_id == default_office().id:
            return db.session.scalar(
                query.where(Notice.slug == slug, Notice.office_id == office_id)
            )
        query = query.where(Notice.office_id == office_id)
    elif slug:
        return db.session.scalar(query.where(Notice.slug == slug))
    return db.session.scalar(
        query.order_by(Notice.published_at.desc().nulls_last(), Notice.id.desc()).limit(1)
    )


def _route_notice(route: Route) -> Notice | None:
    """The guessed notice when it is a published notice of the routed office, else the office's
    newest (None when unrouted)."""
    if route.office_id is None:
        return None
    if route.notice_id is not None:
        notice = db.session.get(Notice, route.notice_id)
        published = notice is not None and notice.state == "published"
        if published and notice is not None and notice.office_id == route.office_id:
            return notice
    return intake_notice(route.office_id)


def record_mail(
    mail: InboundMail,
    *,
    body: str,
    attachments: Sequence[IncomingFile],
    sender: str | None,
    actor: str,
    before_commit: Callable[[Submission], None],
    route: Route,
    status: str = "received",
    hold_reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Receipt:
    """The message as an email submission of ``route``'s office (unrouted when it has none)
    through the one door; ``before_commit`` keeps the mail's own record in the same
    transaction."""
    parsed = mail.parsed
    return record_submission(
        Incoming(
            channel="email",
            body=body,
            body_html=parsed.html,
            notice=_route_notice(route),
            office_id=route.office_id,
            unrouted=route.office_id is None,
            subject=parsed.subject or None,
            attachments=attachments,
            received_at=mail.received_at,
            status=status,
            hold_reason=hold_reason,
            sender_email=sender,
            message_id=mail.message_id,
            dedupe_key=mail.hash_key,
            channel_details={**(route.channel_details() or {}), **(details or {})} or None,
            actor=actor,
        ),
        before_commit=before_commit,
    )
