"""The ledger (台账) export: every submission whatever its status, as CSV, XLSX or JSON.

Memory stays flat however many rows there are: rows are read in ``yield_per`` partitions
(server-side cursor on PostgreSQL), written out and dropped. XLSX rows are written straight
into a streamed zip entry (xlsx_stream): the rest of the workbook (styles, print set-up, the
summaries) comes from a small workbook xlsxwriter builds first, so the bytes can leave as the
rows are read, to a file or to the browser.

- JSON: an array of exactly the objects `flask submissions show CODE --json` prints.
- CSV: one row per submission, the same fields as JSON (findings and attachment names joined
  with ";") and ``office``, the name of the office that answers it.
- XLSX, ready to hand to the inspection team: sheet 台账 (one row per submission, oldest
  received first: 序号, times in Asia/Shanghai, channel and status in words, 关联问题 with the
  finding's title, 经办人, 答复内容/办理结果, 答复/办结时间, 满意度, 合并至, 转办单位, overdue flag,
  then the office's working columns; wrapped text, frozen header, autofilter, A4 landscape
  print set-up with the header row repeated and page numbers), sheet 按问题汇总 (per finding:
  received, replied, overdue, median days to reply; see portal.ledger.stats for the
  definitions) and sheet 按渠道汇总 (the same per channel, counted while the rows stream).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO, Literal
from xml.sax.saxutils import escape as xml_escape

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.intake.contract import as_dict
from portal.intake.models import CHANNEL_LABELS, Attachment, Submission, SubmissionFinding
from portal.ledger import stats
from portal.notices.models import Finding, Notice
from portal.offices.models import Office
from portal.offices.service import office_by_slug
from portal.progress import keepalive
from portal.triage import workflow
from portal.triage.models import StatusChange
from portal.workdays import local_today, to_local

Format = Literal["csv", "xlsx", "json"]
Tick = Callable[[int], None]  # told how many more rows were written (a progress bar)
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
    "satisfaction",  # the submitter's latest rating: satisfied, basically_satisfied, unsatisfied
    "office",  # the name of the office that answers; empty while unrouted
)
BATCH = 1000
UNROUTED = "（待分办）"  # the 单位 cell of a submission no office answers yet
XLSX_CELL_MAX = 32_767  # Excel's limit on one cell's text
# The 台账 sheet, in the order the inspection team reads it: the handover columns first (the
# print area), then the office's working columns. (title, width in characters, wrapped?)
LEDGER_COLUMNS = (
    ("序号", 6, False),
    ("回执编号", 13, False),
    ("收到时间", 17, False),
    ("渠道", 7, False),
    ("关联问题", 24, True),
    ("主题", 16, True),
    ("内容", 36, True),
    ("经办人", 10, False),
    ("状态", 8, False),
    ("答复内容/办理结果", 36, True),
    ("答复时间", 17, False),
    ("办结时间", 17, False),
    ("满意度", 8, False),
    ("合并至", 13, False),
    ("转办单位", 14, True),
    ("逾期未答复", 8, False),
    ("单位", 16, True),
    ("公示", 16, True),
    ("逾期收到", 8, False),
    ("附件数", 7, False),
    ("答复期限", 11, False),
    ("答复用时（天）", 10, False),
    ("状态记录", 40, True),
)
PRINTED_COLUMNS = 16  # 序号 … 逾期未答复: what fits an A4 landscape page scaled to its width
LEDGER_SHEET = "台账"
FINDING_SHEET = "按问题汇总"
CHANNEL_SHEET = "按渠道汇总"
SUMMARY_COLUMNS = (
    ("问题编号", 9),
    ("问题", 50),
    ("收到意见", 10),
    ("已答复", 8),
    ("逾期未答复", 11),
    ("答复用时中位数（天）", 18),
)
CHANNEL_COLUMNS = (("渠道", 12), ("收到意见", 10), ("已答复", 8), ("逾期未答复", 11))


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
    tick: Tick | None = None,
) -> int:
    """Write the ledger to ``out`` (binary); returns the number of submissions written.

    Without ``office_slug``, every office's submissions and the unrouted ones (the operator's
    view). Raises UnknownNotice / UnknownOffice for an unknown slug and ValueError for an
    unknown format.
    """
    return write_ledger(fmt, out, _filter(notice_slug, date_from, date_to, office_slug), tick)


def count_rows(
    *,
    notice_slug: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    office_slug: str | None = None,
) -> int:
    """How many submissions export_submissions would write (a progress bar's total)."""
    ledger = _filter(notice_slug, date_from, date_to, office_slug)
    return db.session.scalar(select(func.count(Submission.id)).where(*ledger.conditions())) or 0


def write_ledger(
    fmt: Format, out: BinaryIO, ledger: stats.LedgerFilter, tick: Tick | None = None
) -> int:
    """Write the submissions ``ledger`` selects (staff pages pass their reader's offices)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "json":
        return _write_json(ledger, out, tick)
    if fmt == "csv":
        return _write_csv(ledger, out, tick)
    return _write_xlsx(ledger, out, tick)


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


def _write_json(ledger: stats.LedgerFilter, out: BinaryIO, tick: Tick | None = None) -> int:
    count = 0
    out.write(b"[")
    for submission in _submissions(ledger):
        line = json.dumps(as_dict(submission), ensure_ascii=False)
        out.write((b",\n  " if count else b"\n  ") + line.encode("utf-8"))
        count += 1
        if tick is not None:
            tick(1)
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


def _write_csv(ledger: stats.LedgerFilter, out: BinaryIO, tick: Tick | None = None) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    offices = _office_names()
    count = 0
    for submission in _submissions(ledger):
        office = offices.get(submission.office_id, "") if submission.office_id else ""
        writer.writerow(csv_row(as_dict(submission), office))
        count += 1
        if tick is not None:
            tick(1)
    text.flush()
    text.detach()  # leave ``out`` open for the caller
    return count


# --- XLSX: the 台账 sheet and its two summaries -----------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    code: str
    office: str
    notice: str
    channel: str  # as people read it (电话, 信件, …)
    status: str  # as people read it
    received_at: datetime
    late: bool
    findings: str  # "number. title" per counted finding, one a line
    subject: str
    body: str
    attachments: int
    reply_due_on: date | None
    answered_at: datetime | None
    days_to_reply: int | None
    overdue: bool
    timeline: str
    channel_code: str = ""
    status_code: str = ""
    assignee: str = ""
    reply: str = ""  # the last reply sent, else the reason recorded when it was answered or closed
    closed_at: datetime | None = None  # when it was last closed (办结), while it stays closed
    satisfaction: str = ""  # the submitter's rating (满意/基本满意/不满意) once rated
    merged_into: str = ""  # the receipt code of the original it was merged into
    referred_to: str = ""  # the bodies it was referred to (转办), joined by 、


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


def _staff_names() -> dict[int, str]:
    from portal.staff.models import User

    rows = db.session.execute(select(User.id, User.display_name, User.email))
    return {r.id: r.display_name or r.email for r in rows}


@dataclass(frozen=True)
class _Partition:
    """What one partition of rows needs from the other tables, read in one query each."""

    findings: dict[int, list[Any]]
    changes: dict[int, list[Any]]
    files: dict[int, list[Any]]
    replies: dict[int, list[Any]]
    merged: dict[int, list[Any]]
    referrals: dict[int, list[Any]]
    ratings: dict[int, list[Any]]

    @classmethod
    def read(cls, ids: list[int]) -> _Partition:
        from portal.triage.case_models import Rating
        from portal.triage.models import DuplicateLink, Referral, Reply

        original = Submission.__table__.alias("original")
        return cls(
            findings=_grouped(
                select(SubmissionFinding.submission_id, Finding.number, Finding.title)
                .join(Finding, Finding.id == SubmissionFinding.finding_id)
                .where(SubmissionFinding.submission_id.in_(ids), stats.counted_link())
                .order_by(SubmissionFinding.submission_id, Finding.number)
            ),
            changes=_grouped(
                select(
                    StatusChange.submission_id,
                    StatusChange.old,
                    StatusChange.new,
                    StatusChange.reason,
                    StatusChange.at,
                )
                .where(StatusChange.submission_id.in_(ids))
                .order_by(StatusChange.submission_id, StatusChange.at, StatusChange.id)
            ),
            files=_grouped(
                select(Attachment.submission_id, Attachment.id).where(
                    Attachment.submission_id.in_(ids)
                )
            ),
            replies=_grouped(
                select(Reply.submission_id, Reply.body, Reply.created_at)
                .where(Reply.submission_id.in_(ids))
                .order_by(Reply.submission_id, Reply.created_at, Reply.id)
            ),
            merged=_grouped(
                select(DuplicateLink.submission_id, original.c.code)
                .join(original, original.c.id == DuplicateLink.original_id)
                .where(DuplicateLink.submission_id.in_(ids))
                .order_by(DuplicateLink.submission_id, DuplicateLink.at)
            ),
            referrals=_grouped(
                select(Referral.submission_id, Referral.body_name)
                .where(Referral.submission_id.in_(ids))
                .order_by(Referral.submission_id, Referral.at, Referral.id)
            ),
            ratings=_grouped(
                select(Rating.submission_id, Rating.rating)
                .where(Rating.submission_id.in_(ids))
                .order_by(Rating.submission_id, Rating.id)
            ),
        )


def ledger_rows(
    ledger: stats.LedgerFilter, today: date | None = None, up_to: int | None = None
) -> Iterator[LedgerRow]:
    """One LedgerRow per submission, oldest received first, read in partitions (constant
    memory: each partition's related rows are read with one query per table, then dropped).
    ``up_to``: submissions with ids up to this one only (those counted before streaming)."""
    today = today or local_today()
    notices = {row.id: row.title for row in db.session.execute(select(Notice.id, Notice.title))}
    offices = _office_names()
    staff = _staff_names()
    # No join on the answered-at subquery here: PostgreSQL's fast-start plan for a cursor
    # nests it under every row (quadratic at 1M rows). Each partition works it out from the
    # replies and status changes it reads anyway.
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
            Submission.assignee_id,
        )
        .where(*ledger.conditions(), *([Submission.id <= up_to] if up_to is not None else []))
        .order_by(Submission.received_at, Submission.id)
        .execution_options(yield_per=BATCH)
    )
    for partition in db.session.execute(stmt).partitions():
        related = _Partition.read([r.id for r in partition])
        for r in partition:
            yield _ledger_row(r, offices, notices, staff, related, today)


def _finding_text(links: Sequence[Any]) -> str:
    return "\n".join(f"{f.number}. {f.title}" for f in links)


def _answered_at(replies: Sequence[Any], changes: Sequence[Any]) -> datetime | None:
    """The first reply, or the first change to "replied" (a reply given by phone), whichever
    came first: portal.ledger.stats' definition."""
    moments = [r.created_at for r in replies] + [c.at for c in changes if c.new == "replied"]
    return min(moments) if moments else None


def _closed_at(status: str, changes: Sequence[Any]) -> datetime | None:
    if status != "closed":
        return None  # reopened or still open: not 办结, whatever happened before
    closings = [c.at for c in changes if c.new == "closed"]
    return _local(closings[-1]) if closings else None


def _outcome(replies: Sequence[Any], changes: Sequence[Any]) -> str:
    """答复内容/办理结果: the last reply sent; without one (answered by phone, closed), the
    reason staff recorded for the last change to replied or closed."""
    if replies:
        return str(replies[-1].body)
    reasons = [c.reason for c in changes if c.new in ("replied", "closed") and c.reason]
    return reasons[-1] if reasons else ""


def _ledger_row(
    r: Any,
    offices: dict[int, str],
    notices: dict[int, str],
    staff: dict[int, str],
    related: _Partition,
    today: date,
) -> LedgerRow:
    received = _local(r.received_at)
    changes = related.changes.get(r.id, ())
    replies = related.replies.get(r.id, ())
    answered = _local(_answered_at(replies, changes))
    assert received is not None
    days = (answered.date() - received.date()).days if answered else None
    overdue = (
        answered is None
        and r.status in workflow.OPEN_STATUSES
        and r.status != "waiting"  # the clock is paused (triage.pauses)
        and r.reply_due_on is not None
        and r.reply_due_on < today
    )
    return LedgerRow(
        code=r.code,
        office=offices.get(r.office_id, "") if r.office_id else UNROUTED,
        notice=notices.get(r.notice_id, "") if r.notice_id else "",
        channel=str(CHANNEL_LABELS.get(r.channel, r.channel)),
        status=workflow.label(r.status),
        received_at=received,
        late=bool(r.late),
        findings=_finding_text(related.findings.get(r.id, ()))[:XLSX_CELL_MAX],
        subject=r.subject or "",
        body=(r.body or "")[:XLSX_CELL_MAX],
        attachments=len(related.files.get(r.id, ())),
        reply_due_on=r.reply_due_on,
        answered_at=answered,
        days_to_reply=days,
        overdue=overdue,
        timeline=_timeline_text(changes)[:XLSX_CELL_MAX],
        channel_code=r.channel,
        status_code=r.status,
        assignee=staff.get(r.assignee_id, "") if r.assignee_id else "",
        reply=_outcome(replies, changes)[:XLSX_CELL_MAX],
        closed_at=_closed_at(r.status, changes),
        merged_into="、".join(m.code for m in related.merged.get(r.id, ())),
        referred_to="、".join(f.body_name for f in related.referrals.get(r.id, ())),
        satisfaction=_satisfaction(related.ratings.get(r.id, ())),
    )


def _satisfaction(ratings: Sequence[Any]) -> str:
    """The submitter's latest rating in words (满意/基本满意/不满意), empty while unrated."""
    from portal.triage.satisfaction import label

    return label(ratings[-1].rating) if ratings else ""


def _row_values(serial: int, row: LedgerRow) -> tuple[Any, ...]:
    """The cells of one 台账 row, in LEDGER_COLUMNS order."""
    return (
        serial,
        row.code,
        row.received_at,
        row.channel,
        row.findings,
        row.subject,
        row.body,
        row.assignee,
        row.status,
        row.reply,
        row.answered_at,
        row.closed_at,
        row.satisfaction,
        row.merged_into,
        row.referred_to,
        "是" if row.overdue else "",
        row.office,
        row.notice,
        "是" if row.late else "",
        row.attachments,
        row.reply_due_on,
        row.days_to_reply,
        row.timeline,
    )


def _print_setup(sheet: Any, last_row: int) -> None:
    """A4 landscape, the handover columns scaled to the page width, the header row on every
    page, page numbers in the footer."""
    sheet.set_paper(9)  # A4
    sheet.set_landscape()
    sheet.repeat_rows(0)
    sheet.print_area(0, 0, max(last_row, 1), PRINTED_COLUMNS - 1)
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer("&C第 &P 页，共 &N 页")


def _write_xlsx(ledger: stats.LedgerFilter, out: BinaryIO, tick: Tick | None = None) -> int:
    count, chunks = xlsx_stream(ledger, tick)
    for chunk in chunks:
        out.write(chunk)
    return count


def xlsx_stream(
    ledger: stats.LedgerFilter, tick: Tick | None = None
) -> tuple[int, Iterator[bytes]]:
    """(rows, the workbook's bytes as they are made). The 台账 sheet's rows go straight into a
    streamed zip entry, so the first bytes leave at once and memory stays flat however many
    rows there are. Everything else (styles, print set-up, the two summary sheets, the header
    row) comes from a small workbook xlsxwriter builds first, knowing the row count."""
    count, last_id = db.session.execute(
        select(func.count(Submission.id), func.max(Submission.id)).where(*ledger.conditions())
    ).one()
    template = zipfile.ZipFile(io.BytesIO(_template(ledger, count)))
    sheet = template.read(LEDGER_PART).decode("utf-8")
    head, sample, tail = _split_sheet(sheet, count)
    styles = _column_styles(sample)
    rows = ledger_rows(ledger, up_to=last_id) if count else iter(())

    def chunks() -> Iterator[bytes]:
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for info in template.infolist():
                if info.filename != LEDGER_PART:
                    archive.writestr(info, template.read(info.filename))
                    continue
                with archive.open(LEDGER_PART, "w", force_zip64=True) as entry:
                    entry.write(head.encode("utf-8"))
                    for serial, row in enumerate(rows, start=1):
                        entry.write(_row_xml(serial, _row_values(serial, row), styles))
                        if tick is not None:
                            tick(1)
                        if sink.size >= STREAM_CHUNK:
                            keepalive()  # a sync gunicorn worker would be killed otherwise
                            yield sink.take()
                    entry.write(tail.encode("utf-8"))
                yield sink.take()
        yield sink.take()

    return count, chunks()


LEDGER_PART = "xl/worksheets/sheet1.xml"  # the first sheet: 台账
STREAM_CHUNK = 64 * 1024
# XML 1.0 has no place for these, and an XML reader turns CR into LF: Excel reads them written
# as _xHHHH_ (as Excel itself and xlsxwriter write them).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_EXCEL_EPOCH = datetime(1899, 12, 30)


class _Sink:
    """A write-only file for zipfile: collects bytes until the stream takes them."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered below the sink."""

    def close(self) -> None:
        """The stream, not the zip, decides when it ends."""

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data


def _template(ledger: stats.LedgerFilter, count: int) -> bytes:
    """The workbook without the 台账 rows: header row and one sample row (a blank cell per
    column in that column's format: the stream reads each column's style number from it)."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False, "strings_to_urls": False})
    header = workbook.add_format(
        {"bold": True, "text_wrap": True, "valign": "vcenter", "bg_color": "#DDEBF7", "border": 1}
    )
    cell_formats = {
        "text": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "plain": workbook.add_format({"valign": "top"}),
        "stamp": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm", "valign": "top"}),
        "day": workbook.add_format({"num_format": "yyyy-mm-dd", "valign": "top"}),
    }
    sheet = workbook.add_worksheet(LEDGER_SHEET)
    _write_summary(workbook.add_worksheet(FINDING_SHEET), stats.finding_stats(ledger), header)
    _write_channels(workbook.add_worksheet(CHANNEL_SHEET), stats.channel_figures(ledger), header)
    for col, (title, width, wrapped) in enumerate(LEDGER_COLUMNS):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, title, header)
        kind = COLUMN_KINDS.get(title, "text" if wrapped else "plain")
        sheet.write_blank(1, col, None, cell_formats[kind])
    sheet.freeze_panes(1, 2)  # the header and 序号/回执编号 stay in view
    sheet.autofilter(0, 0, max(count, 1), len(LEDGER_COLUMNS) - 1)
    _print_setup(sheet, count)
    workbook.close()
    return buffer.getvalue()


COLUMN_KINDS = {
    "收到时间": "stamp",
    "答复时间": "stamp",
    "办结时间": "stamp",
    "答复期限": "day",
}


def _split_sheet(sheet: str, count: int) -> tuple[str, str, str]:
    """The sheet XML before the sample row (dimension set to the real size), the sample row,
    and everything from </sheetData> on."""
    start = sheet.index('<row r="2"')
    end = sheet.index("</sheetData>")
    last = xl_col(len(LEDGER_COLUMNS) - 1)
    head = re.sub(
        r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}{count + 1}"/>', sheet[:start]
    )
    return head, sheet[start:end], sheet[end:]


def xl_col(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _column_styles(sample: str) -> list[str]:
    found = dict(re.findall(r'<c r="([A-Z]+)2" s="(\d+)"', sample))
    return [found.get(xl_col(col), "0") for col in range(len(LEDGER_COLUMNS))]


_COLUMN_NAMES = [xl_col(col) for col in range(len(LEDGER_COLUMNS))]


def _text_xml(value: str) -> str:
    text = xml_escape(value)
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    return text


def _row_xml(serial: int, values: Sequence[Any], styles: Sequence[str]) -> bytes:
    """One <row>: numbers and times as numbers (times as Excel serial days, Asia/Shanghai wall
    clock), every text an inline string (never a formula, whatever it starts with)."""
    r = serial + 1
    cells = []
    for col, value in enumerate(values):
        if value is None or value == "":
            continue
        ref = f"{_COLUMN_NAMES[col]}{r}"
        if isinstance(value, datetime):
            days = (value - _EXCEL_EPOCH).total_seconds() / 86400
            cells.append(f'<c r="{ref}" s="{styles[col]}"><v>{days!r}</v></c>')
        elif isinstance(value, date):
            days = (value - _EXCEL_EPOCH.date()).days
            cells.append(f'<c r="{ref}" s="{styles[col]}"><v>{days}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{ref}" s="{styles[col]}"><v>{value}</v></c>')
        else:
            cells.append(
                f'<c r="{ref}" s="{styles[col]}" t="inlineStr"><is>'
                f'<t xml:space="preserve">{_text_xml(str(value))}</t></is></c>'
            )
    return f'<row r="{r}">{"".join(cells)}</row>'.encode()


def _write_header(sheet: Any, columns: Sequence[tuple[str, int]], header: Any) -> None:
    for col, (title, width) in enumerate(columns):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, title, header)
    sheet.freeze_panes(1, 0)
    sheet.repeat_rows(0)
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.set_footer("&C第 &P 页，共 &N 页")


def _write_summary(sheet: Any, rows: Sequence[stats.FindingStats], header: Any) -> None:
    _write_header(sheet, SUMMARY_COLUMNS, header)
    for i, item in enumerate(rows, start=1):
        if item.number is not None:
            sheet.write_number(i, 0, item.number)
        sheet.write_string(i, 1, item.title)
        sheet.write_number(i, 2, item.received)
        sheet.write_number(i, 3, item.replied)
        sheet.write_number(i, 4, item.overdue)
        if item.median_days is not None:
            sheet.write_number(i, 5, item.median_days)


def _write_channels(sheet: Any, figures: Sequence[stats.ChannelFigures], header: Any) -> None:
    _write_header(sheet, CHANNEL_COLUMNS, header)
    for i, item in enumerate(figures, start=1):
        sheet.write_string(i, 0, str(CHANNEL_LABELS.get(item.channel, item.channel)))
        sheet.write_number(i, 1, item.received)
        sheet.write_number(i, 2, item.replied)
        sheet.write_number(i, 3, item.overdue)
    total = len(figures) + 1
    sheet.write_string(total, 0, "合计")
    for col, name in ((1, "received"), (2, "replied"), (3, "overdue")):
        sheet.write_number(total, col, sum(getattr(f, name) for f in figures))
