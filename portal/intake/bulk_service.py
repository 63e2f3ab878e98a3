"""Importing a checked bulk file through the one door, and keeping it between preview and import.

Every row goes through record_submission like a single letter typed in, all rows in ONE
transaction: a file is imported whole or not at all, and the same file is refused a second time.
The whole file goes to one office (or is left unrouted); a row may name its own notice (公示
column), which must be one of that office's.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake import bulk, offline
from portal.intake.bulk_rows import BulkRow, RowError
from portal.intake.forms import normalise_phone
from portal.intake.office_choice import OfficeChoice
from portal.intake.service import (
    Contact,
    DuplicateSubmission,
    Incoming,
    Receipt,
    SubmissionRejected,
    record_submission,
)
from portal.notices.models import Notice
from portal.personal_data import derived_key
from portal.workdays import utcnow

# record_submission's field names -> the bulk file's column headers.
SERVICE_COLUMNS = {
    "body": "内容",
    "subject": "标题",
    "findings": "涉及问题",
    "contact_name": "姓名",
    "contact_phone": "电话",
    "contact_email": "电子邮箱",
    "contact_address": "地址",
    "anonymous": "匿名",
    "consent": "同意使用联系方式",
    "channel": "渠道",
}


class BulkRowRejected(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.text for e in errors))
        self.errors = errors


def preview_file(
    data: bytes, filename: str, notice: Notice | None, *, choice: OfficeChoice | None = None
) -> bulk.BulkPreview:
    """The file read and checked: each row's notice (the 公示 cell, else ``notice``) must be
    one of the chosen office's, its findings that notice's; errors in file order."""
    preview = bulk.parse_bulk(data, filename)
    notices = _row_notices(preview, notice, choice)

    def known(row: BulkRow) -> set[int]:
        if row.row not in notices:  # its notice is wrong already: one error is enough
            return set(row.findings)
        return _finding_numbers(notices[row.row])

    bulk.check_row_findings(preview, known)
    preview.errors.sort(key=lambda e: (e.row, e.column))
    return preview


def _finding_numbers(notice: Notice | None) -> set[int]:
    return {f.number for f in notice.findings if f.active} if notice else set()


def _published_notice(text: str) -> Notice | None:
    """A published notice named by its slug or its exact title."""
    query = select(Notice).where(Notice.state == "published")
    found = db.session.scalar(query.where(Notice.slug == text.strip().lower()))
    if found is None:
        found = db.session.scalars(query.where(Notice.title == text.strip()).limit(1)).first()
    return found


def _row_notices(
    preview: bulk.BulkPreview, notice: Notice | None, choice: OfficeChoice | None
) -> dict[int, Notice | None]:
    """Each row's notice by row number; a row naming an unknown notice, or one of another
    office than the file's, gets an error with its row number."""
    header = bulk.COLUMN_BY_KEY["notice"].header
    found: dict[int, Notice | None] = {}
    for row in preview.rows:
        if not row.notice:
            found[row.row] = notice
            continue
        named = _published_notice(row.notice)
        problem = _row_notice_problem(named, choice)
        if problem:
            preview.errors.append(RowError(row.row, header, problem))
            continue
        row.notice_id = named.id if named else None
        found[row.row] = named
    return found


def _row_notice_problem(named: Notice | None, choice: OfficeChoice | None) -> str | None:
    if named is None:
        return _("没有找到这个公示：请填写已发布公示的网址名或完整标题，或留空。")
    if choice is None:
        return None
    if choice.unrouted:
        return _("本次导入为“待分派”，各行不能指定公示：请留空，或选择承办单位后再导入。")
    if choice.office is not None and named.office_id != choice.office.id:
        return _(
            "公示“%(title)s”属于%(owner)s，不是本次导入所选%(office)s的公示。",
            title=named.title,
            owner=named.office.name,
            office=choice.office.name,
        )
    return None


def import_rows(
    rows: list[BulkRow],
    notice: Notice | None,
    digest: str,
    filename: str,
    *,
    choice: OfficeChoice | None = None,
) -> list[Receipt]:
    """Record every row through the one door in ONE transaction: all rows or none.

    Every row goes to ``choice``'s office (unrouted for 待分派; without a choice, as its
    notice says). record_submission(commit=False) only flushes; any failure rolls the whole
    session back. The dedupe key (file hash + row) refuses a second import of the same file.
    """
    receipts: list[Receipt] = []
    try:
        for row in rows:
            row_notice = db.session.get(Notice, row.notice_id) if row.notice_id else notice
            receipts.append(_record_row(row, row_notice, digest, choice))
        audit.record(
            "intake.bulk_import",
            object_type="notice" if notice else None,
            object_id=notice.id if notice else None,
            details={
                "filename": filename,
                "sha256": digest,
                "rows": len(rows),
                "office_id": choice.office_id if choice else None,
            },
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return receipts


def _record_row(
    row: BulkRow, notice: Notice | None, digest: str, choice: OfficeChoice | None
) -> Receipt:
    received_at = row.called_at or offline.received_moment(row.received_on, utcnow())
    postmark = row.postmarked_on if row.channel == "letter" else None
    contact = None
    if row.has_contact and not row.anonymous:
        phone = row.phone
        contact = Contact(
            name=row.name,
            phone=(normalise_phone(phone) or phone) if phone else None,
            email=row.email,
            address=row.full_address,
        )
    try:
        return record_submission(
            Incoming(
                channel=row.channel,
                body=row.body,
                notice=notice,
                office_id=choice.office_id if choice else None,
                unrouted=bool(choice and choice.unrouted),
                subject=row.subject,
                findings=row.findings,
                contact=contact,
                anonymous=row.anonymous,
                consent=contact is not None and row.consent,
                received_at=received_at,
                postmarked_on=postmark,
                channel_details=row.channel_details(),
                dedupe_key=f"bulk:{digest[:40]}:{row.row}",
            ),
            commit=False,
        )
    except SubmissionRejected as exc:
        raise BulkRowRejected(
            [
                RowError(row.row, SERVICE_COLUMNS.get(name, name), message)
                for name, message in exc.errors.items()
            ]
        ) from exc
    except DuplicateSubmission as exc:
        message = _("此文件已经导入过（该行登记为回执%(code)s），本次未重复导入。", code=exc.code)
        raise BulkRowRejected([RowError(row.row, "", message)]) from exc


# --- the file between preview and confirmation ---------------------------------------------------
# It waits in the instance folder, Fernet-encrypted (it holds personal data), named after its
# uploader, for at most a day. Sending it back through the page instead would hit the form-field
# size limit (500 KB) with a few dozen long letters.

PENDING_TTL = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _pending_folder() -> Path:
    return Path(current_app.instance_path) / "bulk-pending"


def _pending_path(user_id: int, token: str) -> Path | None:
    if not _TOKEN.match(token or ""):
        return None
    return _pending_folder() / f"{user_id}-{token}"


def _pending_fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derived_key("bulk-pending")))


def keep_pending(data: bytes, user_id: int) -> str:
    """Keep the file for this user's confirmation; the token names it."""
    folder = _pending_folder()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - PENDING_TTL
    for old in folder.iterdir():  # abandoned previews
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    path = folder / f"{user_id}-{token}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_pending_fernet().encrypt(data))
    return token


def take_pending(token: str, user_id: int) -> bytes | None:
    """The file a preview kept for this user, removed from disk; None if gone or expired."""
    path = _pending_path(user_id, token)
    if path is None:
        return None
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    try:
        return _pending_fernet().decrypt(blob, ttl=PENDING_TTL)
    except InvalidToken:
        return None
