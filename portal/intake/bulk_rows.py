"""One row of a bulk file: its columns, and its cells read and checked into a BulkRow (pure).

Every problem names its row (as the spreadsheet numbers it) and its column (the Chinese
header), so staff can find and fix the cell; a row with any problem is not returned.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
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
from portal.intake.offline import DURATION_MAX, join_address
from portal.workdays import local_date, local_to_utc

# --- columns -----------------------------------------------------------------------------------


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
    Column(
        "notice",
        "公示",
        False,
        "可空：本行针对的公示（网址名或完整标题），须是所选单位的公示；空则为页面上选择的公示",
        "",
        ("针对的公示",),
    ),
    Column("findings", "涉及问题", False, "公示中的问题编号，多个用顿号分隔，如 3、5", "3、5"),
    Column("called_at", "来电时间", False, "仅电话：年-月-日 时:分", "2024-02-20 10:30"),
    Column("duration_min", "通话时长（分钟）", False, "仅电话：整数分钟", "8", ("通话时长",)),
    Column("line", "接听号码", False, "仅电话：我办接听的号码", "0769-22366196"),
    Column("received_by", "接待人", False, "仅来访：接待的工作人员", "李四"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


# --- results -----------------------------------------------------------------------------------


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
    notice: str | None = None  # the 公示 cell: a notice's slug or title, checked by the service
    notice_id: int | None = None  # that notice, once the service found it

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


# --- cells ---------------------------------------------------------------------------------------

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


def cell_text(value: Any) -> str:
    """A cell as text: NFC, no control characters, 8.0 from a spreadsheet read as 8."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", str(value))
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).strip()


def parse_date(value: Any) -> date | None:
    """A date from a cell: a spreadsheet date, 2024-02-02, 2024/2/2, 2024年2月2日, 20240202."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", cell_text(value))
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
    text = unicodedata.normalize("NFKC", cell_text(value))
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


# --- one row -------------------------------------------------------------------------------------


def read_row(
    row: int, cells: dict[str, str], raw: dict[str, Any], errors: list[RowError], today: date
) -> BulkRow | None:
    """The row's values, or None with its problems appended to ``errors``.

    ``cells`` maps column keys to cell text, ``raw`` to the values as the file held them
    (spreadsheet dates stay dates)."""
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
        notice=r.text("notice", 300),
    )
    _check_contact(r, values)
    _check_channel_details(r, values)
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


def _check_channel_details(r: _RowReader, values: BulkRow) -> None:
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
