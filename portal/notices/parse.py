"""Parse a 巡察整改进展情况公示 (rectification notice) from plain text into its structure.

Pure logic, no Flask. Offices write the same kind of notice in many styles: half- or
full-width numbering, "针对“X”问题。一是…二是…" or "关于“X”的问题。整改情况：（1）…；（2）…",
status markers such as （已完成整改）, CRLF, BOM, U+3000 indentation, and sometimes a website
footer pasted after the date. `parse_notice` accepts all of these and keeps the published
wording as written (contacts alone are normalised, because staff and mail code match them).
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "FOOTER_PATTERNS",
    "Category",
    "Contacts",
    "Finding",
    "Measure",
    "NoticeParseError",
    "ParseWarning",
    "ParsedNotice",
    "Section",
    "Subsection",
    "parse_notice",
]


# --------------------------------------------------------------------------- structure


@dataclass(frozen=True)
class Measure:
    number: int
    text: str


@dataclass
class Finding:
    number: int
    title: str
    measures: list[Measure]
    status: str | None
    line: int


@dataclass
class Category:
    number: int
    title: str
    findings: list[Finding]


@dataclass
class Subsection:
    number: int
    title: str
    body: str


@dataclass
class Section:
    number: int
    title: str
    body: str
    subsections: list[Subsection]
    # "narrative", "findings" (its subsections became the categories) or "plan".
    kind: str = "narrative"


@dataclass
class Contacts:
    phone: str | None
    email: str | None
    address: str | None
    postcode: str | None


@dataclass(frozen=True)
class ParseWarning:
    line: int
    message: str


@dataclass
class ParsedNotice:
    title: str
    preamble: str
    sections: list[Section]
    categories: list[Category]
    plan: list[Subsection]
    closing: str
    contacts: Contacts
    signed_by: str | None
    signed_on: datetime.date | None
    warnings: list[ParseWarning]

    @property
    def findings(self) -> list[Finding]:
        return [finding for category in self.categories for finding in category.findings]


class NoticeParseError(ValueError):
    """The text cannot be read as a notice; `line` is 1-based in the submitted text."""

    def __init__(self, line: int, text: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.text = text
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- patterns

_CN_DIGITS = {
    "〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0,
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN = "一二三四五六七八九十"
_FULL_DIGITS = "0-9０-９"

_SECTION_RE = re.compile(rf"^([{_CN}]{{1,3}})\s*[、．.]\s*(.*)$")
_SUBSECTION_RE = re.compile(rf"^[(（]\s*([{_CN}]{{1,3}})\s*[)）]\s*(.*)$")
# "12." but not "1.5亿元" nor "2023.": at most three digits, no digit after the mark.
_NUMBERED_RE = re.compile(rf"^([{_FULL_DIGITS}]{{1,3}})\s*[.．、](?![{_FULL_DIGITS}])\s*(.*)$")
_MEASURE_LINE_RE = re.compile(rf"^(?:[(（]\s*[{_FULL_DIGITS}]{{1,2}}\s*[)）]|[①-⑳])")
_INTRO_RE = re.compile(r"^整改(?:情况|措施|进展|落实情况|成效)\s*[:：]\s*")
_INTRO_ANYWHERE_RE = re.compile(r"整改(?:情况|措施|进展|落实情况|成效)\s*[:：]")

_STATUS_WORDS = (
    "已完成整改|已完成|已整改|基本完成整改|基本完成|阶段性完成|部分完成|未完成|"
    "持续推进|持续整改|长期坚持|长期推进|整改中|正在整改|正在推进"
)
_OPEN = r"[(（【\[]"
_CLOSE = r"[)）】\]]"
_STATUS_LINE_RE = re.compile(
    rf"^(?:{_OPEN}\s*({_STATUS_WORDS})\s*{_CLOSE}"
    rf"|(?:整改(?:状态|进度|情况)|完成情况)\s*[:：]\s*({_STATUS_WORDS})"
    rf"|({_STATUS_WORDS}))\s*[。；;]?$"
)
_STATUS_END_RE = re.compile(rf"\s*{_OPEN}\s*({_STATUS_WORDS})\s*{_CLOSE}\s*[。；;]?\s*$")

# The title is what stands between the outer quotes; the closing quote is the one followed
# by 问题 and a sentence mark, so "“A问题整改不实”问题" and nested ‘’ keep their whole text.
_TITLE_RE = re.compile(
    r"^(?:针对|关于)?\s*[“\"「『](?P<title>.+?)[”\"」』]\s*的?问题"
    r"(?:的?整改(?:情况|措施|进展))?\s*(?:[。：:；;，,]|$)"
)
_TITLE_FALLBACK_RE = re.compile(r"^(?P<title>[^。：:]+)[。：:]")
_CATEGORY_HINT_RE = re.compile(r"方面|问题")
_PLAN_RE = re.compile(r"下一步|工作计划|今后")
_GROUP_RE = re.compile(r"(?:省委|市委|区委|县委)第[一二三四五六七八九十]+巡察组")
_TITLE_WORD_RE = re.compile(r"通报|公告|公示|情况")

_CLOSING_CUE_RE = re.compile(
    r"欢迎|联系方式|联系电话|联系人|电话|邮箱|信箱|地址|邮编|邮政编码|来信|来电|来访|反映|意见建议|"
    r"传真|[Ee]-?mail|@|＠"
)
_SIGNATURE_TAIL_RE = re.compile(
    r"(?:党组|党委|委员会|委|院|局|办公室|办|组|部|厅|处|室|会|所|中心|政府|公司|集团|大学|"
    r"学校|医院|支部|总支)$"
)

_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"([{_FULL_DIGITS}]{{4}})\s*年\s*([{_FULL_DIGITS}]{{1,2}})\s*月\s*"
        rf"([{_FULL_DIGITS}]{{1,2}})\s*日$"
    ),
    re.compile(
        r"([〇零○Ｏ一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*"
        r"([一二三四五六七八九十]{1,3})\s*日$"
    ),
    re.compile(
        rf"([{_FULL_DIGITS}]{{4}})\s*[-－./／]\s*([{_FULL_DIGITS}]{{1,2}})\s*[-－./／]\s*"
        rf"([{_FULL_DIGITS}]{{1,2}})$"
    ),
)

FOOTER_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"版权所有|copyright|©",
        r"ICP\s*[备证]",
        r"网站地图",
        r"主办(?:单位)?\s*[:：]|主办单位",
        r"承办(?:单位)?\s*[:：]|承办单位",
        r"技术支持",
        r"联系地址",
        r"邮政编码",
        r"纪委|监委|纪律检查委员会|监察委员会|纪检监察",
        r"网站标识码",
        r"公网安备|公安备案",
        r"联系我们|关于我们|网站声明|隐私政策|返回顶部|打印本页|关闭窗口|分享到|浏览次数|访问量",
    )
)

_PHONE_RE = re.compile(
    # Not inside an e-mail address or a longer number: "xc12388@163.com" holds no phone.
    r"(?<![A-Za-z0-9_.%+-])"
    r"(?:\(0\d{2,3}\)\s*\d{7,8}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|1[3-9]\d{9}|12\d{3})"
    r"(?![A-Za-z0-9@])"
)
_LABELLED_PHONE_RE = re.compile(r"(?:电话|热线)\s*[:]?\s*(\d{7,8})(?!\d)")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ADDRESS_RE = re.compile(
    r"(?:邮政信箱|通信地址|通讯地址|来信地址|邮寄地址|信件地址|(?<!邮箱)(?<!网)地址)\s*[:]?\s*([^;。\n]+)"
)
_ADDRESS_CUT_RE = re.compile(r"[,，]?\s*(?:邮编|邮政编码).*$")
_POSTCODE_RE = re.compile(r"(?:邮编|邮政编码)\s*[:]?\s*(\d{6})(?!\d)")

_BOUNDARY_CHARS = frozenset("。；;：:！!？?\n")
_WHITESPACE = " \t\u3000\u00a0\u200b\ufeff"


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Line:
    no: int
    text: str


def _cn_number(text: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20 (enough for headings, measures and dates)."""
    if "十" not in text:
        value = 0
        for char in text:
            value = value * 10 + _CN_DIGITS[char]
        return value
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _number(text: str) -> int:
    """Arabic (half- or full-width) or Chinese numeral."""
    if text[0] in _CN_DIGITS or text[0] == "十":
        return _cn_number(text)
    return int(unicodedata.normalize("NFKC", text))


def _split_sentence(text: str) -> tuple[str, str]:
    """'统一思想。深入学习…' → ('统一思想', '深入学习…'); no 。 → (text, '')."""
    head, mark, rest = text.partition("。")
    return (head, rest.strip()) if mark else (text, "")


def _clip(text: str) -> str:
    return text[:40]


def _normalise_lines(text: str) -> list[_Line]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    lines = []
    for index, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip(_WHITESPACE).strip()
        if stripped:
            lines.append(_Line(index, stripped))
    return lines


def _parse_date(text: str) -> tuple[datetime.date | None, bool, int]:
    """(date, matched, start): whether `text` ends with a date, and where that date begins."""
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            year, month, day = (_number(part) for part in match.groups())
            try:
                return datetime.date(year, month, day), True, match.start()
            except ValueError:
                return None, True, match.start()
    return None, False, 0


def _is_footer(text: str) -> bool:
    return any(pattern.search(text) for pattern in FOOTER_PATTERNS)


def _is_structural(text: str) -> bool:
    return bool(
        _SECTION_RE.match(text)
        or _SUBSECTION_RE.match(text)
        or _NUMBERED_RE.match(text)
        or _MEASURE_LINE_RE.match(text)
        or _INTRO_RE.match(text)
        or _STATUS_LINE_RE.match(text)
    )


def _is_finding_only(text: str) -> bool:
    """Lines that only make sense inside a finding: （1）…, 整改情况：, （已完成整改）."""
    return bool(
        _MEASURE_LINE_RE.match(text) or _INTRO_RE.match(text) or _STATUS_LINE_RE.match(text)
    )


def _looks_like_signature(text: str) -> bool:
    return (
        len(text) <= 40
        and not re.search(r"[。；;：:，,]", text)
        and not _CLOSING_CUE_RE.search(text)
        and not _is_structural(text)
    )


# --------------------------------------------------------------------------- the tail


@dataclass
class _Tail:
    body_end: int  # index in lines where the body (and closing) stops
    closing_start: int
    signed_by: str | None
    signed_on: datetime.date | None


def _date_candidates(lines: list[_Line]) -> list[tuple[int, datetime.date | None, str]]:
    """(index, date, signature written on the same line) for each line ending the notice."""
    found = []
    for index, line in enumerate(lines):
        date, matched, start = _parse_date(line.text)
        if not matched:
            continue
        prefix = line.text[:start].strip(_WHITESPACE).strip()
        if prefix and not (_looks_like_signature(prefix) and _SIGNATURE_TAIL_RE.search(prefix)):
            continue
        found.append((index, date, prefix))
    return found


def _read_tail(lines: list[_Line], warnings: list[ParseWarning]) -> _Tail:
    date_index = None
    signed_on = None
    signed_by = None
    candidates = _date_candidates(lines)
    if candidates:
        # A dated line inside the body is not the signature date: prefer one after the last
        # heading (footers are not headings, so a footer cannot push the date out).
        headings = [
            index
            for index, line in enumerate(lines)
            if not _is_footer(line.text)
            and (
                _SECTION_RE.match(line.text)
                or _SUBSECTION_RE.match(line.text)
                or _NUMBERED_RE.match(line.text)
            )
        ]
        last_heading = headings[-1] if headings else -1
        after = [candidate for candidate in candidates if candidate[0] > last_heading]
        date_index, signed_on, prefix = (after or candidates)[0]
        line = lines[date_index]
        if prefix:
            signed_by = prefix
        if signed_on is None:
            warnings.append(
                ParseWarning(line.no, f"第{line.no}行：落款日期无效：{_clip(line.text)}")
            )

    if date_index is None:
        end = len(lines)
        while end > 0 and _is_footer(lines[end - 1].text):
            end -= 1
        last = lines[-1].no
        warnings.append(ParseWarning(last, f"第{last}行：未找到落款日期"))
        if (
            end > 0
            and _looks_like_signature(lines[end - 1].text)
            and _SIGNATURE_TAIL_RE.search(lines[end - 1].text)
        ):
            signed_by = lines[end - 1].text
            end -= 1
        body_end = end
    else:
        for line in lines[date_index + 1 :]:
            if not _is_footer(line.text):
                warnings.append(
                    ParseWarning(
                        line.no, f"第{line.no}行：落款日期之后的内容已忽略：{_clip(line.text)}"
                    )
                )
        body_end = date_index
        if (
            signed_by is None
            and date_index > 0
            and _looks_like_signature(lines[date_index - 1].text)
        ):
            signed_by = lines[date_index - 1].text
            body_end = date_index - 1

    closing_start = body_end
    while closing_start > 0:
        text = lines[closing_start - 1].text
        if _is_structural(text) or not _CLOSING_CUE_RE.search(text):
            break
        closing_start -= 1
    return _Tail(body_end, closing_start, signed_by, signed_on)


def _read_contacts(closing: str) -> Contacts:
    text = unicodedata.normalize("NFKC", closing)
    phone_match = _PHONE_RE.search(text)
    phone = phone_match.group(0) if phone_match else None
    if phone is None:
        labelled = _LABELLED_PHONE_RE.search(text)
        phone = labelled.group(1) if labelled else None
    email = _EMAIL_RE.search(text)
    address = None
    address_match = _ADDRESS_RE.search(text)
    if address_match:
        address = _ADDRESS_CUT_RE.sub("", address_match.group(1)).strip(" ,，、") or None
    postcode = _POSTCODE_RE.search(text)
    return Contacts(
        phone=phone,
        email=email.group(0) if email else None,
        address=address,
        postcode=postcode.group(1) if postcode else None,
    )


# --------------------------------------------------------------------------- the body


@dataclass
class _FindingDraft:
    number: int
    line: int
    head: str
    rest: list[_Line] = field(default_factory=list)
    has_intro: bool = False  # saw 整改情况： so "1." lines below are measures
    numbered_measures: int = 0

    def takes_numbered_line(self, number: int, content: str) -> bool:
        """Is "N.…" a measure of this finding ("整改情况：\n1.…\n2.…") rather than a new one?"""
        if not self.has_intro or _TITLE_RE.match(content):
            return False
        if number != self.numbered_measures + 1:
            return False
        self.numbered_measures = number
        return True

    def note_intro(self, text: str) -> None:
        """Remember 整改情况：, and a "1." written right after it on the same line."""
        intro = _INTRO_ANYWHERE_RE.search(text)
        if intro is None:
            return
        self.has_intro = True
        inline = _NUMBERED_RE.match(text[intro.end() :].lstrip(_WHITESPACE))
        if inline:
            self.numbered_measures = _number(inline.group(1))


@dataclass
class _Block:
    """A section (一、), a subsection (（一）) or a plan item (1.) while it is being read."""

    number: int
    line: int
    head: str
    lines: list[str] = field(default_factory=list)
    children: list[_Block] = field(default_factory=list)
    findings: list[_FindingDraft] = field(default_factory=list)
    is_plan: bool = False

    def has_findings(self) -> bool:
        return bool(self.findings) or any(child.findings for child in self.children)


def _cannot_place(line: _Line) -> NoticeParseError:
    return NoticeParseError(
        line.no, line.text, f"第{line.no}行无法归入任何部分：{_clip(line.text)}"
    )


def _is_finding_line(
    content: str, section: _Block, container: _Block, following: _Line | None
) -> bool:
    if _TITLE_RE.match(content) or section.has_findings():
        return True
    if container is not section and _CATEGORY_HINT_RE.search(container.head):
        return True
    return following is not None and _is_finding_only(following.text)


def _read_body(
    lines: list[_Line],
) -> tuple[list[str], list[_Block]]:
    preamble: list[str] = []
    sections: list[_Block] = []
    section: _Block | None = None
    sub: _Block | None = None
    finding: _FindingDraft | None = None

    for index, line in enumerate(lines):
        text = line.text
        if match := _SECTION_RE.match(text):
            section = _Block(_number(match.group(1)), line.no, match.group(2))
            section.is_plan = bool(_PLAN_RE.search(match.group(2)))
            sections.append(section)
            sub, finding = None, None
            continue
        if match := _SUBSECTION_RE.match(text):
            if section is None:  # categories straight after the preamble
                section = _Block(0, line.no, "")
                sections.append(section)
            sub = _Block(_number(match.group(1)), line.no, match.group(2))
            section.children.append(sub)
            finding = None
            continue
        if match := _NUMBERED_RE.match(text):
            if section is None:
                raise NoticeParseError(
                    line.no,
                    text,
                    f"第{line.no}行：编号的问题出现在任何类别或部分之前：{_clip(text)}",
                )
            number, content = _number(match.group(1)), match.group(2)
            if finding is not None and finding.takes_numbered_line(number, content):
                finding.rest.append(line)
                continue
            if section.is_plan:
                sub = _Block(number, line.no, content)
                section.children.append(sub)
                finding = None
                continue
            container = sub or section
            following = lines[index + 1] if index + 1 < len(lines) else None
            if _is_finding_line(content, section, container, following):
                finding = _FindingDraft(number, line.no, content)
                finding.note_intro(content)
                container.findings.append(finding)
                continue
        if finding is not None:
            finding.rest.append(line)
            finding.note_intro(text)
            continue
        if _is_finding_only(text) and (section is None or section.has_findings()):
            raise _cannot_place(line)
        if sub is not None:
            sub.lines.append(text)
        elif section is not None:
            section.lines.append(text)
        else:
            preamble.append(text)
    return preamble, sections


# --------------------------------------------------------------------------- findings

_MarkerWalk = tuple[re.Pattern[str], Callable[[str], int]]
_MARKER_STYLES: tuple[_MarkerWalk, ...] = (
    (re.compile(r"([一二三四五六七八九十]{1,3})是"), _cn_number),
    (re.compile(rf"[(（]\s*([{_FULL_DIGITS}]{{1,2}})\s*[)）]"), _number),
    (re.compile(r"([①-⑳])"), lambda char: ord(char) - ord("①") + 1),
    (re.compile(rf"([{_FULL_DIGITS}]{{1,2}})\s*[.．、](?![{_FULL_DIGITS}])"), _number),
)


def _at_boundary(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in _WHITESPACE:
        index -= 1
    return index < 0 or text[index] in _BOUNDARY_CHARS


def _walk_markers(text: str, style: _MarkerWalk) -> list[tuple[int, int]]:
    """(start, end) of markers 1, 2, 3… in sequence, each at a sentence boundary."""
    pattern, value_of = style
    expected = 1
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        if value_of(match.group(1)) == expected and _at_boundary(text, match.start()):
            spans.append((match.start(), match.end()))
            expected += 1
    return spans


def _measure_text(text: str) -> str:
    text = text.strip(_WHITESPACE + "\n")
    if text.endswith(("；", ";")):
        text = text[:-1].rstrip(_WHITESPACE)
    return text


def _read_finding(draft: _FindingDraft, warnings: list[ParseWarning]) -> Finding:
    status: str | None = None

    def take_status(text: str) -> str:
        nonlocal status
        if whole := _STATUS_LINE_RE.match(text):
            status = next(group for group in whole.groups() if group)
            return ""
        if end := _STATUS_END_RE.search(text):
            status = end.group(1)
            return text[: end.start()]
        return text

    head = take_status(draft.head)
    if (match := _TITLE_RE.match(head)) or (match := _TITLE_FALLBACK_RE.match(head)):
        title, head = match.group("title"), head[match.end() :]
    else:
        title, head = head, ""

    parts = [_INTRO_RE.sub("", head.strip())]
    parts += [_INTRO_RE.sub("", take_status(line.text)) for line in draft.rest]
    body = "\n".join(part for part in parts if part.strip())

    walks = [spans for style in _MARKER_STYLES if (spans := _walk_markers(body, style))]
    measures: list[Measure] = []
    if walks:
        spans = min(walks, key=lambda found: found[0][0])
        prefix = body[: spans[0][0]].strip()
        if prefix:
            warnings.append(
                ParseWarning(
                    draft.line,
                    f"第{draft.line}行：问题{draft.number}在第一项整改措施前的文字未归入任何措施："
                    f"{_clip(prefix)}",
                )
            )
        ends = [start for start, _ in spans[1:]] + [len(body)]
        for number, ((_, end), stop) in enumerate(zip(spans, ends, strict=True), start=1):
            measures.append(Measure(number, _measure_text(body[end:stop])))
    elif body.strip():
        measures.append(Measure(1, _measure_text(body)))

    if not measures or any(not measure.text for measure in measures):
        warnings.append(
            ParseWarning(draft.line, f"第{draft.line}行：问题{draft.number}没有整改措施内容")
        )
    return Finding(draft.number, title, measures, status, draft.line)


def _check_numbers(findings: list[Finding], warnings: list[ParseWarning]) -> None:
    """Findings are keyed by number downstream, so a restart per category is a repeat too."""
    previous = 0
    seen: set[int] = set()
    for finding in findings:
        number, line = finding.number, finding.line
        if number in seen:
            warnings.append(ParseWarning(line, f"第{line}行：问题编号{number}重复"))
        elif number != previous + 1:
            warnings.append(ParseWarning(line, f"第{line}行：问题编号从{previous}跳到{number}"))
        seen.add(number)
        previous = number


# --------------------------------------------------------------------------- assembly


def _subsection(block: _Block) -> Subsection:
    title, rest = _split_sentence(block.head)
    return Subsection(block.number, title, "\n".join(part for part in [rest, *block.lines] if part))


def _assemble(
    sections: list[_Block], warnings: list[ParseWarning]
) -> tuple[list[Section], list[Category], list[Subsection]]:
    out_sections: list[Section] = []
    categories: list[Category] = []
    plan: list[Subsection] = []
    for block in sections:
        title, rest = _split_sentence(block.head)
        body = "\n".join(part for part in [rest, *block.lines] if part)
        if not block.has_findings():
            subsections = [_subsection(child) for child in block.children]
            if block.number or block.head or block.lines or subsections:
                kind = "plan" if block.is_plan else "narrative"
                out_sections.append(Section(block.number, title, body, subsections, kind))
            if block.is_plan and not plan:
                plan = subsections
            continue
        if block.number or block.head:
            out_sections.append(Section(block.number, title, body, [], "findings"))
        if block.findings:
            found = [_read_finding(draft, warnings) for draft in block.findings]
            categories.append(Category(block.number, title, found))
        for child in block.children:
            child_title, child_rest = _split_sentence(child.head)
            if child_rest or child.lines:
                warnings.append(
                    ParseWarning(
                        child.line,
                        f"第{child.line}行：类别“{_clip(child_title)}”下第一个问题之前的文字"
                        "未归入任何问题",
                    )
                )
            if not child.findings:
                warnings.append(
                    ParseWarning(
                        child.line, f"第{child.line}行：类别“{_clip(child_title)}”下没有问题"
                    )
                )
            found = [_read_finding(draft, warnings) for draft in child.findings]
            categories.append(Category(child.number, child_title, found))
    return out_sections, categories, plan


def _is_title(text: str) -> bool:
    return (
        len(text) < 80
        and "。" not in text
        and bool(_TITLE_WORD_RE.search(text))
        and not _is_structural(text)
    )


def _title_lines(lines: list[_Line]) -> tuple[str | None, int]:
    """(title, how many lines it takes): one line, or an issuer line then "关于…的通报"."""
    first = lines[0].text
    if _is_title(first):
        return first, 1
    if (
        len(lines) > 1
        and _SIGNATURE_TAIL_RE.search(first)
        and _looks_like_signature(first)
        and lines[1].text.startswith("关于")
        and _is_title(lines[1].text)
    ):
        return first + lines[1].text, 2
    return None, 0


def parse_notice(text: str) -> ParsedNotice:
    """Read a notice; raise NoticeParseError when it cannot be read, warn when it is doubtful."""
    lines = _normalise_lines(text)
    if not lines:
        raise NoticeParseError(1, "", "第1行：公示内容为空")
    warnings: list[ParseWarning] = []

    tail = _read_tail(lines, warnings)
    title, start = _title_lines(lines)
    closing_start = max(tail.closing_start, start)
    body_end = max(tail.body_end, start)

    preamble, blocks = _read_body(lines[start:closing_start])
    sections, categories, plan = _assemble(blocks, warnings)
    if not any(category.findings for category in categories):
        first = lines[0]
        raise NoticeParseError(first.no, first.text, f"第{first.no}行：未找到任何编号的问题")
    _check_numbers([f for c in categories for f in c.findings], warnings)

    closing_lines = lines[closing_start:body_end]
    closing = "\n".join(line.text for line in closing_lines)
    contacts = _read_contacts(closing)
    if contacts == Contacts(None, None, None, None):
        where = closing_lines[0].no if closing_lines else lines[body_end - 1].no
        warnings.append(ParseWarning(where, f"第{where}行：未找到联系方式"))

    preamble_text = "\n".join(preamble)
    if title is None:
        group = _GROUP_RE.search(preamble_text)
        signer = tail.signed_by or ""
        title = (
            f"{signer}关于{group.group(0)}巡察集中整改进展情况的通报"
            if group
            else f"{signer}关于巡察整改进展情况的通报"
        )

    warnings.sort(key=lambda warning: warning.line)
    return ParsedNotice(
        title=title,
        preamble=preamble_text,
        sections=sections,
        categories=categories,
        plan=plan,
        closing=closing,
        contacts=contacts,
        signed_by=tail.signed_by,
        signed_on=tail.signed_on,
        warnings=warnings,
    )
