"""The ledger (台账) export: every submission whatever its status, as CSV, XLSX or JSON.

Memory stays flat however many rows there are: rows are read in ``yield_per`` partitions
(server-side cursor on PostgreSQL), written out and dropped; XLSX goes through xlsxwriter's
constant_memory mode, which flushes each row to a temporary file as soon as it is complete.

- JSON: an array of exactly the objects `flask submissions show CODE --json` prints.
- CSV: one row per submission, the same fields as JSON (findings and attachment names joined
  with ";") and ``office``, the name of the office that answers it.
- XLSX: sheet 汇总 (per finding: received, replied, overdue, median days to reply; see
  portal.ledger.stats for the definitions) and sheet 台账 (one row per submission with its
  office and its status timeline).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO, Literal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.intake.contract import as_dict
from portal.intake.models import Attachment, Submission, SubmissionFinding
from portal.ledger import stats
from portal.notices.models import Finding, Notice
from portal.offices.models import Office
from portal.offices.service import office_by_slug
from portal.triage import workflow
from portal.triage.models import StatusChange
from portal.workdays import local_today, to_local

Format = Literal["csv", "xlsx", "json"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "json")
CSV_FIELDS = (
    "code",
    "channel",
    "status",
    "subject",
    "body",
    "sender_email",
    "received_at",
    "findings",
    "attachments",
    "office",  # the name of the office that answers; empty while unrouted
)
BATCH = 1000
UNROUTED = "（待分办）"  # the 单位 cell of a submission no office answers yet
XLSX_CELL_MAX = 32_767  # Excel's limit on one cell's text
LEDGER_COLUMNS = (
    ("回执编号", 13),
    ("单位", 16),
    ("公示", 16),
    ("渠道", 6),
    ("状态", 8),
    ("收到时间", 17),
    ("逾期收到", 8),
    ("关联问题", 10),
    ("主题", 24),
    ("内容", 60),
    ("附件数", 7),
    ("答复期限", 11),
    ("首次答复时间", 17),
    ("答复用时（天）", 10),
    ("逾期未答复", 10),
    ("状态记录", 60),
)
SUMMARY_COLUMNS = (
    ("问题编号", 9),
    ("问题", 50),
    ("收到意见", 10),
    ("已答复", 8),
    ("逾期未答复", 11),
    ("答复用时中位数（天）", 18),
)


class UnknownNotice(LookupError):
    """No notice with that slug."""


class UnknownOffice(LookupError):
    """No office with that slug."""


def _filter(
    notice_slug: str | None,
    date_from: date | None,
    date_to: date | None,
    office_slug: str | None = None,
) -> stats.LedgerFilter:
    notice_id = office_ids = None
    if notice_slug:
        notice_id = db.session.scalar(select(Notice.id).where(Notice.slug == notice_slug))
        if notice_id is None:
            raise UnknownNotice(f"没有名为 {notice_slug} 的公示。")
    if office_slug:
        office = office_by_slug(office_slug)
        if office is None:
            raise UnknownOffice(f"没有网址名为 {office_slug} 的单位。")
        office_ids = (office.id,)
    return stats.LedgerFilter(notice_id, date_from, date_to, office_ids)


def export_submissions(
    fmt: Format,
    out: BinaryIO,
    *,
    notice_slug: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    office_slug: str | None = None,
) -> int:
    """Write the ledger to ``out`` (binary); returns the number of submissions written.

    Without ``office_slug``, every office's submissions and the unrouted ones (the operator's
    view). Raises UnknownNotice / UnknownOffice for an unknown slug and ValueError for an
    unknown format.
    """
    return write_ledger(fmt, out, _filter(notice_slug, date_from, date_to, office_slug))


def write_ledger(fmt: Format, out: BinaryIO, ledger: stats.LedgerFilter) -> int:
    """Write the submissions ``ledger`` selects (staff pages pass their reader's offices)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "json":
        return _write_json(ledger, out)
    if fmt == "csv":
        return _write_csv(ledger, out)
    return _write_xlsx(ledger, out)


# --- JSON and CSV: the `show` objects ------------------------------------------------------------


def _submissions(ledger: stats.LedgerFilter) -> Iterator[Submission]:
    stmt = (
        select(Submission)
        .where(*ledger.conditions())
        .order_by(Submission.id)
        .options(
            selectinload(Submission.finding_links).selectinload(SubmissionFinding.finding),
            selectinload(Submission.attachments),
        )
        .execution_options(yield_per=BATCH)
    )
    for partition in db.session.scalars(stmt).partitions():
        yield from partition
        # Objects already written are not needed again; forgetting them keeps memory flat.
        for submission in partition:
            db.session.expunge(submission)


def _write_json(ledger: stats.LedgerFilter, out: BinaryIO) -> int:
    count = 0
    out.write(b"[")
    for submission in _submissions(ledger):
        line = json.dumps(as_dict(submission), ensure_ascii=False)
        out.write((b",\n  " if count else b"\n  ") + line.encode("utf-8"))
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


# A cell starting with one of these is a formula to Excel, LibreOffice and WPS (tab and CR too:
# some of them strip leading blanks before deciding). Citizens write the text: never run it.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: str) -> str:
    """Text a spreadsheet shows as typed: a formula-leading value gets a leading apostrophe
    (OWASP's advice for CSV injection). The XLSX export needs none: it writes every text as a
    string cell (write_string), which no spreadsheet evaluates; CSV has no cell types."""
    return "'" + value if value.startswith(FORMULA_LEADS) else value


def csv_row(data: dict[str, Any], office: str = "") -> dict[str, Any]:
    row = dict(data)
    row["findings"] = ";".join(map(str, data["findings"]))
    row["attachments"] = ";".join(a["filename"] for a in data["attachments"])
    row["office"] = office
    return {
        k: "" if v is None else formula_safe(v) if isinstance(v, str) else v for k, v in row.items()
    }


def _office_names() -> dict[int, str]:
    return {row.id: row.name for row in db.session.execute(select(Office.id, Office.name))}


def _write_csv(ledger: stats.LedgerFilter, out: BinaryIO) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    offices = _office_names()
    count = 0
    for submission in _submissions(ledger):
        office = offices.get(submission.office_id, "") if submission.office_id else ""
        writer.writerow(csv_row(as_dict(submission), office))
        count += 1
    text.flush()
    text.detach()  # leave ``out`` open for the caller
    return count


# --- XLSX: summary + ledger rows -----------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    code: str
    office: str
    notice: str
    channel: str
    status: str
    received_at: datetime
    late: bool
    findings: str
    subject: str
    body: str
    attachments: int
    reply_due_on: date | None
    answered_at: datetime | None
    days_to_reply: int | None
    overdue: bool
    timeline: str


def _local(moment: datetime | None) -> datetime | None:
    """Asia/Shanghai wall-clock time without tzinfo: XLSX cells cannot hold an offset."""
    return None if moment is None else to_local(moment).replace(tzinfo=None)


def _grouped(stmt: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in db.session.execute(stmt):
        out.setdefault(row[0], []).append(row)
    return out


def _timeline_text(changes: Sequence[Any]) -> str:
    return "；".join(
        f"{_local(c.at):%Y-%m-%d %H:%M} {workflow.label(c.old)}→{workflow.label(c.new)}"
        + (f"（{c.reason}）" if c.reason else "")
        for c in changes
    )


def ledger_rows(ledger: stats.LedgerFilter, today: date | None = None) -> Iterator[LedgerRow]:
    """One LedgerRow per submission, in id order, read in partitions (constant memory)."""
    today = today or local_today()
    notices = {row.id: row.title for row in db.session.execute(select(Notice.id, Notice.title))}
    offices = _office_names()
    answered = stats.answered_at_subquery()
    stmt = (
        select(
            Submission.id,
            Submission.code,
            Submission.office_id,
            Submission.notice_id,
            Submission.channel,
            Submission.status,
            Submission.received_at,
            Submission.late,
            Submission.subject,
            Submission.body,
            Submission.reply_due_on,
            answered.c.answered_at,
        )
        .outerjoin(answered, answered.c.submission_id == Submission.id)
        .where(*ledger.conditions())
        .order_by(Submission.id)
        .execution_options(yield_per=BATCH)
    )
    for partition in db.session.execute(stmt).partitions():
        ids = [r.id for r in partition]
        findings = _grouped(
            select(SubmissionFinding.submission_id, Finding.number)
            .join(Finding, Finding.id == SubmissionFinding.finding_id)
            .where(SubmissionFinding.submission_id.in_(ids), stats.counted_link())
            .order_by(SubmissionFinding.submission_id, Finding.number)
        )
        changes = _grouped(
            select(
                StatusChange.submission_id,
                StatusChange.old,
                StatusChange.new,
                StatusChange.reason,
                StatusChange.at,
            )
            .where(StatusChange.submission_id.in_(ids))
            .order_by(StatusChange.submission_id, StatusChange.at, StatusChange.id)
        )
        files = _grouped(
            select(Attachment.submission_id, Attachment.id).where(Attachment.submission_id.in_(ids))
        )
        for r in partition:
            yield _ledger_row(r, offices, notices, findings, changes, files, today)


def _ledger_row(
    r: Any,
    offices: dict[int, str],
    notices: dict[int, str],
    findings: dict[int, list[Any]],
    changes: dict[int, list[Any]],
    files: dict[int, list[Any]],
    today: date,
) -> LedgerRow:
    received = _local(r.received_at)
    answered = _local(r.answered_at)
    assert received is not None
    days = (answered.date() - received.date()).days if answered else None
    overdue = (
        answered is None
        and r.status in workflow.OPEN_STATUSES
        and r.reply_due_on is not None
        and r.reply_due_on < today
    )
    return LedgerRow(
        code=r.code,
        office=offices.get(r.office_id, "") if r.office_id else UNROUTED,
        notice=notices.get(r.notice_id, "") if r.notice_id else "",
        channel=r.channel,
        status=workflow.label(r.status),
        received_at=received,
        late=bool(r.late),
        findings="、".join(str(f.number) for f in findings.get(r.id, ())),
        subject=r.subject or "",
        body=(r.body or "")[:XLSX_CELL_MAX],
        attachments=len(files.get(r.id, ())),
        reply_due_on=r.reply_due_on,
        answered_at=answered,
        days_to_reply=days,
        overdue=overdue,
        timeline=_timeline_text(changes.get(r.id, ()))[:XLSX_CELL_MAX],
    )


def _write_xlsx(ledger: stats.LedgerFilter, out: BinaryIO) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        out, {"constant_memory": True, "strings_to_numbers": False, "strings_to_urls": False}
    )
    bold = workbook.add_format({"bold": True})
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    summary = workbook.add_worksheet("汇总")
    sheet = workbook.add_worksheet("台账")
    _write_summary(summary, stats.finding_stats(ledger), bold)
    for col, (title, width) in enumerate(LEDGER_COLUMNS):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, title, bold)
    count = 0
    for count, row in enumerate(ledger_rows(ledger), start=1):
        values = (
            row.code,
            row.office,
            row.notice,
            row.channel,
            row.status,
            row.received_at,
            "是" if row.late else "",
            row.findings,
            row.subject,
            row.body,
            row.attachments,
            row.reply_due_on,
            row.answered_at,
            row.days_to_reply,
            "是" if row.overdue else "",
            row.timeline,
        )
        for col, value in enumerate(values):
            _cell(sheet, count, col, value, stamp, day)
    sheet.freeze_panes(1, 1)
    workbook.close()
    return count


def _cell(sheet: Any, row: int, col: int, value: Any, stamp: Any, day: Any) -> None:
    if value is None or value == "":
        return
    if isinstance(value, datetime):
        sheet.write_datetime(row, col, value, stamp)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime.combine(value, datetime.min.time()), day)
    elif isinstance(value, int):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, value)


def _write_summary(sheet: Any, rows: Sequence[stats.FindingStats], bold: Any) -> None:
    for col, (title, width) in enumerate(SUMMARY_COLUMNS):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, title, bold)
    for i, item in enumerate(rows, start=1):
        if item.number is not None:
            sheet.write_number(i, 0, item.number)
        sheet.write_string(i, 1, item.title)
        sheet.write_number(i, 2, item.received)
        sheet.write_number(i, 3, item.replied)
        sheet.write_number(i, 4, item.overdue)
        if item.median_days is not None:
            sheet.write_number(i, 5, item.median_days)
