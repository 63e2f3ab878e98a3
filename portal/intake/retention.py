"""Retention: erase personal data of closed submissions once the stated period has passed.

`flask submissions purge --older-than DAYS` (default RETENTION_DAYS) keeps what the ledger and the
statistics need (code, status, channel, notice, findings, dates, body unless --include-text) and
removes who sent it: contact fields, sender address and its blind index, personal channel details
(a caller's number), the inbound mail (raw bytes, sender and subject of every message linked to
the submission), the outbox texts, and every attachment. A stored file is deleted only when no
remaining attachment row uses the same content hash (uploads are content-addressed and shared
between submissions).

Database changes and the one audit event commit together; files are removed after the commit, so
a crash in between leaves only unreferenced files, which the orphan sweep of the next run removes.
Running it twice changes nothing the second time (it still records a run with zero counts).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Result,
    SQLColumnExpression,
    delete,
    func,
    inspect,
    or_,
    select,
    update,
)

from portal import audit
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake.mail.models import MailMessage
from portal.intake.models import Attachment, FollowUp, Submission
from portal.outbox.models import OutboxMessage
from portal.progress import progress

# channel_details keys that say nothing about the person (phone: called_at and duration stay,
# the caller's number goes).
NEUTRAL_DETAIL_KEYS = frozenset({"entered_by", "row", "called_at", "duration_min", "received_by"})
REDACTED_TEXT = "［已按保留期限删除］"
# A file younger than this may belong to a submission whose transaction has not committed yet.
ORPHAN_MIN_AGE = timedelta(hours=1)
BATCH = 500


@dataclass
class PurgeReport:
    older_than_days: int
    cutoff: str
    submissions: int = 0
    attachments: int = 0
    files_removed: int = 0
    files_still_shared: int = 0
    orphan_files_removed: int = 0
    mail_messages: int = 0
    outbox_messages: int = 0
    follow_ups_redacted: int = 0

    def line(self) -> str:
        return (
            f"purged {self.submissions} submissions, {self.attachments} attachments, "
            f"{self.files_removed} files ({self.files_still_shared} kept: shared), "
            f"{self.orphan_files_removed} orphan files, {self.mail_messages} mail copies, "
            f"{self.outbox_messages} outbox messages"
        )


def _closed_at() -> SQLColumnExpression[Any]:
    """When each submission was closed: its last change to 'closed', else its last update.

    status_changes belongs to triage; it is used only when triage registered it (never imported
    from here: adding tables to the metadata at run time would surprise create_all users).
    """
    table = db.metadata.tables.get("status_changes")
    if table is None or not inspect(db.session.get_bind()).has_table("status_changes"):
        return Submission.updated_at
    last_closed = (
        select(func.max(table.c.at))
        .where(table.c.submission_id == Submission.id, table.c.new == "closed")
        .scalar_subquery()
    )
    return func.coalesce(last_closed, Submission.updated_at)


def _has_personal_data(include_text: bool) -> ColumnElement[bool]:
    has_files = select(Attachment.id).where(Attachment.submission_id == Submission.id).exists()
    has_mail = (
        select(MailMessage.id)
        .where(
            MailMessage.submission_id == Submission.id,
            or_(MailMessage.raw.is_not(None), MailMessage.sender.is_not(None)),
        )
        .exists()
    )
    clauses = [
        Submission.contact_name.is_not(None),
        Submission.contact_phone.is_not(None),
        Submission.contact_email.is_not(None),
        Submission.contact_address.is_not(None),
        Submission.sender_email.is_not(None),
        Submission.sender_hash.is_not(None),
        Submission.body_html.is_not(None),
        has_files,
        has_mail,
    ]
    if include_text:
        clauses.append(Submission.body != REDACTED_TEXT)
    return or_(*clauses)


def due_ids(cutoff: datetime, include_text: bool = False) -> list[int]:
    """Closed submissions closed before ``cutoff`` that still hold personal data."""
    old_and_closed = (Submission.status == "closed", _closed_at() <= cutoff)
    ids = set(
        db.session.scalars(
            select(Submission.id).where(*old_and_closed, _has_personal_data(include_text))
        )
    )
    # channel_details is JSON: a stored JSON null is not SQL NULL, and whether the keys left are
    # personal is a question for Python, not SQL.
    details = db.session.execute(
        select(Submission.id, Submission.channel_details).where(
            *old_and_closed, Submission.channel_details.is_not(None)
        )
    )
    ids.update(sid for sid, value in details if value and _neutral_details(value) != value)
    return sorted(ids)


def _neutral_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    kept = {k: v for k, v in details.items() if k in NEUTRAL_DETAIL_KEYS}
    return kept or None


def _erase_submissions(ids: Sequence[int], include_text: bool, report: PurgeReport) -> set[str]:
    """Erase personal fields and attachment rows; returns the content hashes let go."""
    hashes: set[str] = set()
    for submission in db.session.scalars(select(Submission).where(Submission.id.in_(ids))):
        submission.contact_name = submission.contact_phone = None
        submission.contact_email = submission.contact_address = None
        submission.sender_email = submission.sender_hash = None
        submission.body_html = None
        submission.channel_details = _neutral_details(submission.channel_details)
        if include_text:
            submission.body = REDACTED_TEXT
            submission.subject = None
        report.submissions += 1
    rows = db.session.execute(
        select(Attachment.id, Attachment.sha256).where(Attachment.submission_id.in_(ids))
    ).all()
    hashes.update(sha for _id, sha in rows)
    report.attachments += len(rows)
    db.session.execute(
        delete(Attachment)
        .where(Attachment.submission_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    if include_text:
        result = db.session.execute(
            update(FollowUp)
            .where(FollowUp.submission_id.in_(ids), FollowUp.body != REDACTED_TEXT)
            .values(body=REDACTED_TEXT)
            .execution_options(synchronize_session=False)
        )
        report.follow_ups_redacted += _rowcount(result)
    return hashes


def _erase_copies(ids: Sequence[int], report: PurgeReport) -> None:
    """The inbound mail copies and the outbox texts of these submissions."""
    result = db.session.execute(
        update(MailMessage)
        .where(
            MailMessage.submission_id.in_(ids),
            or_(MailMessage.raw.is_not(None), MailMessage.sender.is_not(None)),
        )
        .values(raw=None, sender=None, sender_hash=None, subject=None)
        .execution_options(synchronize_session=False)
    )
    report.mail_messages += _rowcount(result)
    for row in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.submission_id.in_(ids))
    ):
        if row.to == "" and row.text == "" and row.html is None:
            continue
        row.to, row.text, row.html = "", "", None
        if row.status in ("queued", "failed", "sending"):
            row.status, row.last_error = "dead", "personal data purged (retention)"
        report.outbox_messages += 1


def _rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE changed (the session hands DML results back as CursorResult)."""
    assert isinstance(result, CursorResult)
    return result.rowcount or 0


def _unreferenced(hashes: Iterable[str]) -> set[str]:
    wanted = set(hashes)
    if not wanted:
        return set()
    used = set(db.session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(wanted))))
    return wanted - used


def _remove_files(hashes: set[str], root: Path, report: PurgeReport) -> None:
    free = _unreferenced(hashes)
    report.files_still_shared += len(hashes - free)
    for sha in sorted(free):
        # Re-checked one by one: a new submission of the same file may have committed meanwhile.
        if not _unreferenced([sha]):
            report.files_still_shared += 1
            continue
        path = files.path_for(sha, root)
        if path.exists():
            path.unlink()
            report.files_removed += 1


def sweep_orphans(root: Path, min_age: timedelta = ORPHAN_MIN_AGE) -> int:
    """Delete stored files no attachment row uses (left by a crash), if older than min_age."""
    if not root.is_dir():
        return 0
    limit = time.time() - min_age.total_seconds()
    candidates: dict[str, Path] = {}
    for path in root.glob("[0-9a-f][0-9a-f]/*"):
        if len(path.name) == 64 and path.is_file() and path.stat().st_mtime < limit:
            candidates[path.name] = path
    removed = 0
    names = sorted(candidates)
    for start in range(0, len(names), BATCH):
        for sha in _unreferenced(names[start : start + BATCH]):
            candidates[sha].unlink(missing_ok=True)
            removed += 1
    return removed


def purge(
    older_than_days: int,
    *,
    now: datetime | None = None,
    include_text: bool = False,
    actor: str | None = None,
    uploads_root: Path | None = None,
    show_progress: bool = False,
) -> PurgeReport:
    """Erase personal data of closed submissions closed more than ``older_than_days`` ago
    (``show_progress``: a bar on a terminal, for the CLI)."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be >= 0")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    report = PurgeReport(older_than_days=older_than_days, cutoff=cutoff.isoformat())
    root = uploads_root or files.uploads_root()
    hashes: set[str] = set()
    try:
        ids = due_ids(cutoff, include_text)
        with progress(len(ids), "清除个人信息", enabled=show_progress) as advance:
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                hashes |= _erase_submissions(chunk, include_text, report)
                _erase_copies(chunk, report)
                db.session.flush()
                advance(len(chunk))
        details = {
            k: v
            for k, v in asdict(report).items()
            if k not in ("cutoff", "files_removed", "files_still_shared", "orphan_files_removed")
        }
        # Counted inside the transaction: the files that lose their last reference now.
        details.update(
            cutoff=report.cutoff, include_text=include_text, files=len(_unreferenced(hashes))
        )
        audit.record("submissions.purge", object_type="retention", details=details, actor=actor)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _remove_files(hashes, root, report)
    report.orphan_files_removed = sweep_orphans(root)
    db.session.rollback()  # end the read-only transaction of the reference checks
    return report


@click.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    default=None,
    help="Days since closing (default: RETENTION_DAYS).",
)
@click.option(
    "--include-text", is_flag=True, help="Also blank subject, body and the submitter's follow-ups."
)
@with_appcontext
def purge_command(days: int | None, include_text: bool) -> None:
    """Erase personal data and attachments of closed submissions older than the limit."""
    from flask import current_app

    limit = int(current_app.config["RETENTION_DAYS"]) if days is None else days
    report = purge(limit, include_text=include_text, show_progress=True)
    click.echo(report.line())
