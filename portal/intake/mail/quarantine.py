"""Mail that could not simply be recorded: the staff quarantine (list, release, delete) and the
spool that keeps raw messages on disk while the database is down.

Releasing records the message with status held through the one door; the submission, the
quarantine row's new state and the audit event commit together.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import ColumnElement, select

from portal import audit
from portal.extensions import db
from portal.intake.mail.models import MailMessage
from portal.intake.mail.parse import parse_message
from portal.intake.mail.store import (
    InboundMail,
    IngestOutcome,
    body_text,
    filter_files,
    one_line,
    record_mail,
    route_mail,
)
from portal.intake.models import Submission
from portal.intake.service import DuplicateSubmission, SubmissionRejected


def spool_folder() -> Path:
    return Path(current_app.instance_path) / "mail-spool"


def spool(raw: bytes, office_id: int | None = None) -> Path | None:
    """Write raw to instance/mail-spool/ durably (fsync file and directory); None if impossible.

    The name keeps the office whose own mailbox it came from (``-o<id>``)."""
    try:
        folder = spool_folder()
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        office = f"-o{office_id}" if office_id is not None else ""
        target = folder / f"{stamp}-{hashlib.sha256(raw).hexdigest()[:16]}{office}.eml"
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


def spooled_office(path: Path) -> int | None:
    """The office a spooled message's mailbox belonged to, from its name (None: shared)."""
    match = re.search(r"-o(\d+)\.eml$", path.name)
    return int(match.group(1)) if match else None


def quarantined(
    limit: int = 200, before_id: int | None = None, scope: ColumnElement[bool] | None = None
) -> list[MailMessage]:
    """Messages waiting for staff, newest first; ``scope`` limits them to some offices."""
    query = select(MailMessage).where(MailMessage.release_state == "pending")
    if scope is not None:
        query = query.where(scope)
    if before_id:
        query = query.where(MailMessage.id < before_id)
    return list(db.session.scalars(query.order_by(MailMessage.id.desc()).limit(limit)))


def release(row: MailMessage, *, actor: str) -> IngestOutcome:
    """Record a quarantined message with status held, leaving refused files in the raw mail.

    It goes to the message's office; a message of no office is routed as a new one would be
    (unrouted when that cannot tell). Raises ValueError when it cannot be recorded even so."""
    raw = row.raw_bytes
    if raw is None or row.release_state != "pending":
        raise ValueError("not a pending quarantined message")
    parsed = parse_message(raw, max_bytes=len(raw) + 1)  # staff decided: no size cap now
    mail = InboundMail(
        raw=raw,
        parsed=parsed,
        source=row.source,
        received_at=row.received_at,
        office_id=row.office_id,
    )
    route = route_mail(mail)
    kept, refused_files = filter_files(mail)
    refused = [r.filename for r in refused_files]
    note = f"隔离邮件由工作人员放行（原因：{row.reason or '未知'}）"
    if refused:
        note += "；未接收的附件保留在原始邮件中：" + "、".join(refused)
    reason = row.reason

    def mark_released(code: str, submission_id: int | None, office_id: int | None) -> None:
        row.office_id = office_id
        row.release_state = "released"
        row.released_at = datetime.now(UTC)
        row.released_by = actor
        row.code = code
        row.submission_id = submission_id
        audit.record(
            "mail.release",
            object_type="mail_message",
            object_id=row.id,
            details={"reason": reason, "code": code, "refused": refused},
            actor=actor,
        )

    for attachments in (kept, []):
        try:
            receipt = record_mail(
                mail,
                body=body_text(parsed, bool(kept)),
                attachments=attachments,
                sender=_valid_sender(parsed.sender),
                actor=actor,
                route=route,
                status="held",
                hold_reason=note,
                details=mail.mail_details(refused_files),
                before_commit=lambda submission: mark_released(
                    submission.code, submission.id, submission.office_id
                ),
            )
        except DuplicateSubmission as exc:
            found = db.session.execute(
                select(Submission.id, Submission.office_id).where(Submission.code == exc.code)
            ).first()
            mark_released(
                exc.code, found.id if found else None, found.office_id if found else row.office_id
            )
            db.session.commit()
            return IngestOutcome("duplicate", code=exc.code)
        except SubmissionRejected as exc:
            if "attachments" in exc.errors and attachments:
                continue  # together they break a limit: keep all of them in the raw mail only
            raise ValueError(one_line(str(exc))) from exc
        return IngestOutcome("recorded", code=receipt.code)
    raise ValueError("could not record the released message")


def _valid_sender(sender: str | None) -> str | None:
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
