"""Letters, calls, visits and the suggestion box: the postmark rule and bulk-file parsing.

Pure logic (no Flask): the staff views in staff_views.py turn forms and uploaded files into
calls of record_submission; everything that can be decided without a request lives here.

The postmark rule (信件以邮戳日期为准): the feedback window is [opens, closes) in UTC, read in
Asia/Shanghai. A letter is on time when its postmark date is one of the window's local days,
however late it arrives; anything else counts by the moment it was received.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from portal.intake.limits import (
    ADDRESS_WITHOUT_POSTCODE_MAX,
    NAME_MAX,
    OTHER_BODY_MAX,
    PHONE,
    SUBJECT_MAX,
)
from portal.intake.models import CHANNEL_LABELS
from portal.workdays import SHANGHAI, as_utc, local_date, local_to_utc, local_today

STAFF_CHANNELS = ("letter", "phone", "visit", "box")
# A date-only receipt is placed at the start of office hours: on the closing day of a window
# that shuts in the afternoon, the citizen gets the benefit of the doubt.
OFFICE_OPENS = time(9, 0)

MAX_BULK_BYTES = 5 * 1024 * 1024
MAX_BULK_ROWS = 500
DURATION_MAX = 24 * 60


# --- the postmark rule -------------------------------------------------------------------------


def first_day(window_opens: datetime) -> date:
    """The first Asia/Shanghai day on which the window is open."""
    return local_date(window_opens)


def last_day(window_closes: datetime) -> date:
    """The last Asia/Shanghai day on which the window is open (it closes *at* window_closes)."""
    return local_date(as_utc(window_closes) - timedelta(microseconds=1))


def is_on_time(
    window_opens: datetime | None,
    window_closes: datetime | None,
    received_at: datetime,
    postmarked_on: date | None = None,
) -> bool:
    """True when the submission falls inside the feedback window (an open end never limits).

    With a postmark, only its local date counts: postmarked on the last day and delivered a
    week later is on time; postmarked the day after is not.
    """
    if postmarked_on is not None:
        if window_opens is not None and postmarked_on < first_day(window_opens):
            return False
        return window_closes is None or postmarked_on <= last_day(window_closes)
    moment = as_utc(received_at)
    if window_opens is not None and moment < as_utc(window_opens):
        return False
    return window_closes is None or moment < as_utc(window_closes)


def is_late(
    window_closes: datetime | None, received_at: datetime, postmarked_on: date | None = None
) -> bool:
    """After the window (the ``late`` flag); early letters are not late, merely early."""
    return not is_on_time(None, window_closes, received_at, postmarked_on)


def received_moment(received_on: date, now: datetime | None = None) -> datetime:
    """The UTC instant recorded for something received on a local date without a time.

    Today means now; an earlier day means the start of that day's office hours.
    """
    now = as_utc(now or datetime.now(UTC))
    if received_on >= local_date(now):
        return now
    return datetime.combine(received_on, OFFICE_OPENS, tzinfo=SHANGHAI).astimezone(UTC)


_POSTCODE_FIRST = re.compile(r"^\s*(\d{6})\s+(.+)$", re.S)


def join_address(postcode: str | None, address: str | None) -> str | None:
    """One stored (encrypted) string: "523000 东莞市…", the postcode first as on an envelope."""
    address = (address or "").strip()
    if not address:
        return None
    postcode = (postcode or "").strip()
    return f"{postcode} {address}" if postcode else address


def split_address(stored: str | None) -> tuple[str | None, str]:
    """(postcode, address) from a stored address; the postcode only when it leads the text."""
    match = _POSTCODE_FIRST.match(stored or "")
    if match:
        return match.group(1), match.group(2).strip()
    return None, (stored or "").strip()


def chinese_date(day: date) -> str:
    """2024年2月2日 — the form used in letters (no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


# --- bulk files: columns ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # Chinese header, as in the template
    required: bool
    doc: str  # what goes in it, shown on the bulk page and in the template's 说明 sheet
    example: str
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("channel", "渠道", True, "信件、电话、来访或意见箱", "信件", ("方式", "来源")),
    Column("received_on", "收到日期", True, "年-月-日，如 2024-02-20", "2024-02-20", ("日期",)),
    Column(
        "postmarked_on", "邮戳日期", False, "仅信件；邮戳模糊时留空（按收到日期计）", "2024-02-18"
    ),
    Column("name", "姓名", False, "来信人/来电人/来访人姓名，可空", "张三", ("联系人",)),
    Column("phone", "电话", False, "手机号或带区号的固定电话，可空", "13800138000", ("联系电话",)),
    Column("email", "电子邮箱", False, "可空；填写后会收到受理确认邮件", "", ("邮箱",)),
    Column("address", "地址", False, "回信地址，可空", "东莞市东城区某路1号", ("通信地址",)),
    Column("postcode", "邮编", False, "回信地址的邮政编码，可空", "523000", ("邮政编码",)),
    Column(
        "consent",
        "同意使用联系方式",
        False,
        "留有联系方式时须填“是”（对方同意我办用其答复）",
        "是",
        ("同意",),
    ),
    Column("anonymous", "匿名", False, "“是”表示对方要求匿名，此时不得填写联系方式", "否"),
    Column("subject", "标题", False, "可空，不超过300字", "关于路灯维修", ("主题",)),
    Column("body", "内容", True, "信件转录或电话、来访内容摘要", "……", ("正文", "摘要", "意见")),
    Column("findings", "涉及问题", False, "公示中的问题编号，多个用顿号分隔，如 3、5", "3、5"),
    Column("called_at", "来电时间", False, "仅电话：年-月-日 时:分", "2024-02-20 10:30"),
    Column("duration_min", "通话时长（分钟）", False, "仅电话：整数分钟", "8", ("通话时长",)),
    Column("line", "接听号码", False, "仅电话：我办接听的号码", "0769-22366196"),
    Column("received_by", "接待人", False, "仅来访：接待的工作人员", "李四"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


def _header_key(text: str) -> str:
    """A header cell reduced to what identifies it: no spaces, stars or (必填)/(可空) notes."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = re.sub(r"[\s*＊]", "", text)
    return re.sub(r"\((必填|可空|选填)\)$", "", text)


_HEADER_LOOKUP = {
    _header_key(name): column.key
    for column in COLUMNS
    for name in (column.header, column.key, *column.aliases)
}


# --- bulk files: results -----------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # the row number a spreadsheet shows (the header is row 1); 0 = the whole file
    column: str  # the column's Chinese header, "" when the problem is not one cell's
    message: str  # Chinese

    @property
    def text(self) -> str:
        where = f"第{self.row}行" if self.row else "文件"
        return f"{where}{f'“{self.column}”' if self.column else ''}：{self.message}"


@dataclass
class BulkRow:
    row: int
    channel: str
    received_on: date
    body: str
    postmarked_on: date | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    postcode: str | None = None
    consent: bool = False
    anonymous: bool = False
    subject: str | None = None
    findings: tuple[int, ...] = ()
    called_at: datetime | None = None  # aware UTC
    duration_min: int | None = None
    line: str | None = None
    received_by: str | None = None

    @property
    def has_contact(self) -> bool:
        return any((self.name, self.phone, self.email, self.address))

    @property
    def full_address(self) -> str | None:
        return join_address(self.postcode, self.address)

    @property
    def channel_label(self) -> str:
        return str(CHANNEL_LABELS.get(self.channel, self.channel))

    def channel_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"entered_by": "bulk", "row": self.row}
        if self.channel == "phone":
            details.update(
                called_at=self.called_at.isoformat() if self.called_at else None,
                duration_min=self.duration_min,
                number=self.line,
            )
        elif self.channel == "visit":
            details["received_by"] = self.received_by
        return details


@dataclass
class BulkPreview:
    rows: list[BulkRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    def errors_for(self, row: int) -> list[RowError]:
        return [e for e in self.errors if e.row == row]


class _RowProblems(Exception):
    pass


# --- bulk files: reading -------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 as Chinese Excel saves it."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _csv_cells(data: bytes) -> Iterator[list[Any]]:
    text = decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_cells(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()


def _file_problem(data: bytes, filename: str) -> str | None:
    """Why this upload cannot be read as a bulk file at all, or None."""
    from portal.intake.attachments import detect

    if not data:
        return "文件是空的。"
    if len(data) > MAX_BULK_BYTES:
        return f"文件超过{MAX_BULK_BYTES // 1024 // 1024} MB，请分成几个文件导入。"
    name = filename.lower()
    if name.endswith(".xlsx"):
        detection = detect(data)  # refuses zip bombs, macros and files that only claim XLSX
        if detection.kind != "xlsx" or detection.problem:
            return "文件不是有效的Excel（XLSX）表格。"
        return None
    if name.endswith((".csv", ".txt")):
        if data[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
            return "文件内容是Excel表格，请以 .xlsx 扩展名上传，或另存为CSV。"
        return None
    if name.endswith(".xls"):
        return "不支持旧版Excel（.xls）文件，请另存为 .xlsx 或 CSV（逗号分隔）后上传。"
    return "只能导入CSV或XLSX文件，请使用下载的模板。"


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", str(value))
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).strip()


def parse_bulk(file_bytes: bytes, filename: str, *, today: date | None = None) -> BulkPreview:
    """Read a day's letters from CSV or XLSX and check every row; nothing is stored here."""
    preview = BulkPreview()
    problem = _file_problem(file_bytes, filename)
    if problem:
        preview.errors.append(RowError(0, "", problem))
        return preview
    reader = _xlsx_cells if filename.lower().endswith(".xlsx") else _csv_cells
    try:
        table = list(_bounded(reader(file_bytes)))
    except _RowProblems as exc:
        preview.errors.append(RowError(0, "", str(exc)))
        return preview
    except Exception:  # openpyxl and csv raise many types on damaged files
        preview.errors.append(RowError(0, "", "文件已损坏或格式不对，无法读取。"))
        return preview
    _read_table(table, preview, today or local_today())
    return preview


def _bounded(rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    for index, row in enumerate(rows):
        if index > MAX_BULK_ROWS + 50 and any(_cell_text(v) for v in row):
            raise _RowProblems(f"一个文件最多导入{MAX_BULK_ROWS}行，请分成几个文件。")
        yield row


def _read_table(table: list[list[Any]], preview: BulkPreview, today: date) -> None:
    header_index = next((i for i, row in enumerate(table) if any(_cell_text(v) for v in row)), None)
    if header_index is None:
        preview.errors.append(RowError(0, "", "文件中没有表头和数据。"))
        return
    keys = _read_header(table[header_index], header_index + 1, preview)
    if preview.errors:
        return
    for offset, values in enumerate(table[header_index + 1 :], start=header_index + 2):
        cells = {key: _cell_text(v) for key, v in zip(keys, values, strict=False) if key}
        raw = {key: v for key, v in zip(keys, values, strict=False) if key}
        if not any(cells.values()):
            continue  # blank lines between days are common
        row = _read_row(offset, cells, raw, preview.errors, today)
        if row is not None:
            preview.rows.append(row)
    if len(preview.rows) > MAX_BULK_ROWS:
        preview.errors.append(
            RowError(0, "", f"一个文件最多导入{MAX_BULK_ROWS}行，请分成几个文件。")
        )
    if not preview.rows and not preview.errors:
        preview.errors.append(RowError(0, "", "文件中只有表头，没有要导入的行。"))


def _read_header(values: Sequence[Any], row: int, preview: BulkPreview) -> list[str | None]:
    keys: list[str | None] = []
    for value in values:
        text = _cell_text(value)
        if not text:
            keys.append(None)
            continue
        key = _HEADER_LOOKUP.get(_header_key(text))
        if key is None:
            preview.errors.append(RowError(row, text, "无法识别的列名，请使用模板中的列名。"))
        elif key in keys:
            preview.errors.append(RowError(row, text, "列名重复。"))
        keys.append(key)
    for column in COLUMNS:
        if column.required and column.key not in keys:
            preview.errors.append(RowError(row, column.header, "缺少必填的列。"))
    return keys


# --- bulk files: one row -------------------------------------------------------------------

_CHANNEL_WORDS = {
    "letter": ("信件", "来信", "信", "letter", "邮寄"),
    "phone": ("电话", "来电", "phone", "call"),
    "visit": ("来访", "接访", "走访", "visit"),
    "box": ("意见箱", "意见箱投递", "box"),
}
_CHANNEL_LOOKUP = {word: key for key, words in _CHANNEL_WORDS.items() for word in words}
_YES = {"是", "y", "yes", "true", "1", "√", "✓", "同意"}
_NO = {"否", "n", "no", "false", "0", "×", "不同意", ""}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?(?:\s*[:：]\s*(\d{1,2}))?$")


def parse_date(value: Any) -> date | None:
    """A date from a cell: a spreadsheet date, 2024-02-02, 2024/2/2, 2024年2月2日, 20240202."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", _cell_text(value))
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def parse_local_datetime(value: Any) -> datetime | None:
    """A Shanghai wall-clock date and time from a cell, as aware UTC."""
    if isinstance(value, datetime):
        return local_to_utc(value)
    text = unicodedata.normalize("NFKC", _cell_text(value))
    day_text, _, time_text = re.sub(r"(?<=\d)[T日]\s*", " ", text, count=1).partition(" ")
    day = parse_date(day_text if time_text else text)
    match = _TIME.match(time_text.strip()) if time_text else None
    if day is None or match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return local_to_utc(datetime.combine(day, time(hour, minute)))


def _findings(text: str) -> tuple[int, ...] | None:
    tokens = [t for t in re.split(r"[,，、;；/\s]+", unicodedata.normalize("NFKC", text)) if t]
    if not all(t.isdigit() and 0 < int(t) < 10_000 for t in tokens):
        return None
    return tuple(sorted({int(t) for t in tokens}))


class _RowReader:
    """Collects one row's values and its problems, each naming the column."""

    def __init__(
        self, row: int, cells: dict[str, str], raw: dict[str, Any], errors: list[RowError]
    ) -> None:
        self.row, self.cells, self.raw, self.errors = row, cells, raw, errors
        self.failed = False

    def error(self, key: str, message: str) -> None:
        self.failed = True
        self.errors.append(RowError(self.row, COLUMN_BY_KEY[key].header, message))

    def text(self, key: str, limit: int | None = None) -> str | None:
        value = self.cells.get(key) or None
        if value and limit and len(value) > limit:
            self.error(key, f"不能超过{limit}个字（现有{len(value)}个字）。")
        return value

    def date(self, key: str) -> date | None:
        if not self.cells.get(key):
            return None
        value = parse_date(self.raw.get(key))
        if value is None:
            self.error(key, "日期格式不对，应写作“2024-02-20”。")
        return value

    def flag(self, key: str) -> bool:
        value = unicodedata.normalize("NFKC", self.cells.get(key, "")).lower()
        if value in _YES:
            return True
        if value not in _NO:
            self.error(key, "请填写“是”或“否”。")
        return False


def _read_row(
    row: int, cells: dict[str, str], raw: dict[str, Any], errors: list[RowError], today: date
) -> BulkRow | None:
    r = _RowReader(row, cells, raw, errors)
    channel = _CHANNEL_LOOKUP.get(unicodedata.normalize("NFKC", cells.get("channel", "")).lower())
    if channel is None:
        r.error(
            "channel",
            "渠道须为“信件”“电话”“来访”或“意见箱”。" if cells.get("channel") else "必填。",
        )
    received_on = r.date("received_on")
    if received_on is None and not cells.get("received_on"):
        r.error("received_on", "必填。")
    elif received_on is not None and received_on > today:
        r.error("received_on", "收到日期不能晚于今天。")
    body = r.text("body", OTHER_BODY_MAX)
    if not body:
        r.error("body", "必填：请录入信件内容或通话、来访摘要。")
    values = BulkRow(
        row=row,
        channel=channel or "",
        received_on=received_on or today,
        body=body or "",
        postmarked_on=r.date("postmarked_on"),
        name=r.text("name", NAME_MAX),
        phone=r.text("phone"),
        email=r.text("email"),
        address=r.text("address", ADDRESS_WITHOUT_POSTCODE_MAX),
        postcode=r.text("postcode"),
        consent=r.flag("consent"),
        anonymous=r.flag("anonymous"),
        subject=r.text("subject", SUBJECT_MAX),
        received_by=r.text("received_by", NAME_MAX),
        line=r.text("line", 40),
    )
    _check_contact(r, values)
    _check_channel_details(r, values, today)
    found = _findings(cells.get("findings", ""))
    if found is None:
        r.error("findings", "应为问题编号，多个编号用顿号分隔，如“3、5”。")
    else:
        values.findings = found
    return None if r.failed else values


def _check_contact(r: _RowReader, values: BulkRow) -> None:
    if values.phone and not PHONE.match(unicodedata.normalize("NFKC", values.phone)):
        r.error("phone", "电话号码格式不正确，请填写手机号或带区号的固定电话。")
    if values.email:
        try:
            values.email = validate_email(values.email, check_deliverability=False).normalized
        except EmailNotValidError:
            r.error("email", "邮箱地址格式不正确。")
    if values.postcode and not re.fullmatch(r"\d{6}", values.postcode):
        r.error("postcode", "邮编应为6位数字。")
    if values.anonymous and values.has_contact:
        r.error("anonymous", "要求匿名时不得填写姓名、电话、邮箱或地址。")
    elif values.has_contact and not values.consent:
        r.error("consent", "填写了联系方式时须填“是”（对方同意我办用其联系方式答复）。")


def _check_channel_details(r: _RowReader, values: BulkRow, today: date) -> None:
    channel, received_on = values.channel, values.received_on
    if values.postmarked_on is not None:
        if channel != "letter":
            r.error("postmarked_on", "只有信件填写邮戳日期。")
        elif values.postmarked_on > received_on:
            r.error("postmarked_on", "邮戳日期不能晚于收到日期。")
    called_text = r.cells.get("called_at")
    if called_text:
        called = parse_local_datetime(r.raw.get("called_at"))
        if channel != "phone":
            r.error("called_at", "只有电话填写来电时间。")
        elif called is None:
            r.error("called_at", "时间格式不对，应写作“2024-02-20 10:30”。")
        elif local_date(called) != received_on:
            r.error("called_at", "来电时间与收到日期不是同一天。")
        else:
            values.called_at = called
    duration = r.cells.get("duration_min")
    if duration:
        digits = unicodedata.normalize("NFKC", duration).removesuffix("分钟").strip()
        if channel != "phone":
            r.error("duration_min", "只有电话填写通话时长。")
        elif not digits.isdigit() or int(digits) > DURATION_MAX:
            r.error("duration_min", f"应为0到{DURATION_MAX}之间的整数分钟。")
        else:
            values.duration_min = int(digits)
    if values.line and channel != "phone":
        r.error("line", "只有电话填写接听号码。")
    if values.received_by and channel != "visit":
        r.error("received_by", "只有来访填写接待人。")


def check_findings(preview: BulkPreview, known: Iterable[int]) -> None:
    """Add an error for each row naming a finding number the chosen notice does not have."""
    allowed = set(known)
    header = COLUMN_BY_KEY["findings"].header
    for row in preview.rows:
        unknown = [n for n in row.findings if n not in allowed]
        if unknown:
            preview.errors.append(
                RowError(row.row, header, f"公示中没有编号为{'、'.join(map(str, unknown))}的问题。")
            )


# --- templates ------------------------------------------------------------------------------


def template_csv() -> bytes:
    """The header row, UTF-8 with BOM so that Excel opens the Chinese headers correctly."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([c.header for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    """Sheet 1 to fill in (header row only), sheet 2 the column notes with an example."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "意见登记"
    sheet.append([c.header for c in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = 40 if column.key == "body" else 14
        # Text format keeps 0769-… phone numbers and leading zeros of postcodes intact.
        for row in range(2, MAX_BULK_ROWS + 2):
            sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列名", "是否必填", "填写说明", "示例"])
    for column in COLUMNS:
        notes.append(
            [column.header, "必填" if column.required else "可空", column.doc, column.example]
        )
    notes.append([])
    notes.append(["第一张表从第2行起每行一件；整个文件全部无误才会导入，任何一行有误都不会导入。"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
