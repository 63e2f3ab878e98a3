"""The wording and numbering notices are written in: patterns, numerals, dates and headings."""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass

_CN_DIGITS = {
    "〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "两": 2,
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
CN = "一二三四五六七八九十"
FULL_DIGITS = "0-9０-９"
WHITESPACE = " \t\u3000\u00a0\u200b\ufeff"

SECTION_RE = re.compile(rf"^([{CN}]{{1,3}})\s*[、．.]\s*(.*)$")
SUBSECTION_RE = re.compile(rf"^[(（]\s*([{CN}]{{1,3}})\s*[)）]\s*(.*)$")
# "12." but not "1.5亿元" nor "2023.": at most three digits, no digit after the mark.
NUMBERED_RE = re.compile(rf"^([{FULL_DIGITS}]{{1,3}})\s*[.．、](?![{FULL_DIGITS}])\s*(.*)$")
BRACKETED_RE = re.compile(rf"^([(（]\s*[{FULL_DIGITS}]{{1,2}}\s*[)）])\s*(.*)$")
HALF_BRACKET_RE = re.compile(rf"^([{FULL_DIGITS}]{{1,2}}\s*[)）])\s*(.*)$")
CIRCLED_RE = re.compile(r"^([①-⑳])\s*(.*)$")
QUESTION_RE = re.compile(rf"^(问题\s*([{FULL_DIGITS}]{{1,3}}|[{CN}]{{1,3}}))\s*[:：、.．]\s*(.*)$")
MEASURE_LINE_RE = re.compile(rf"^(?:[(（]\s*[{FULL_DIGITS}]{{1,2}}\s*[)）]|[①-⑳])")

_INTRO_WORDS = r"整改(?:落实情况|完成情况|进展情况|情况|措施|举措|进展|成效|结果)"
INTRO_RE = re.compile(rf"^{_INTRO_WORDS}\s*[:：]\s*")
INTRO_ANYWHERE_RE = re.compile(rf"{_INTRO_WORDS}\s*[:：]")

STATUS_WORDS = (
    "已完成整改|已完成|已整改|基本完成整改|基本完成|阶段性完成|部分完成|未完成|"
    "持续推进|持续整改|长期坚持|长期推进|整改中|正在整改|正在推进"
)
_OPEN = r"[(（【\[]"
_CLOSE = r"[)）】\]]"
STATUS_LINE_RE = re.compile(
    rf"^(?:{_OPEN}\s*({STATUS_WORDS})\s*{_CLOSE}"
    rf"|(?:整改(?:状态|进度|情况)|完成情况)\s*[:：]\s*({STATUS_WORDS})"
    rf"|({STATUS_WORDS}))\s*[。；;]?$"
)
STATUS_END_RE = re.compile(rf"\s*{_OPEN}\s*({STATUS_WORDS})\s*{_CLOSE}\s*[。；;]?\s*$")

# The title is what stands between the outer quotes; the closing quote is the one followed
# by 问题 and a sentence mark, so "“A问题整改不实”问题" and nested ‘’ keep their whole text.
TITLE_RE = re.compile(
    r"^(?:针对|关于)?\s*[“\"「『](?P<title>.+?)[”\"」』]\s*的?问题"
    r"(?:的?整改(?:落实情况|情况|措施|进展)?)?\s*(?:[。：:；;，,]|$)"
)
TITLE_FALLBACK_RE = re.compile(r"^(?P<title>[^。：:]+)[。：:]")
# An unquoted problem heading: "学习贯彻不够深入的问题。" / "关于X的问题" / "X问题：".
PROBLEM_HEAD_RE = re.compile(
    r"^(?:关于|针对)?(?P<title>[^。：:，,；;“”\"]{2,60}?)的?问题(?:的整改)?\s*(?:[。：:；;]|$)"
)
# A category: "（一）关于…方面", "（一）在“……”方面", "一、关于党的领导方面的问题".
CATEGORY_RE = re.compile(r"(?:方面|领域)(?:存在的?|的)?(?:问题|不足)?\s*[：:。]?$")
PLAN_RE = re.compile(r"下一步|工作计划|工作打算|今后")
GROUP_RE = re.compile(r"(?:省委|市委|区委|县委)第[一二三四五六七八九十]+巡察组")
TITLE_WORD_RE = re.compile(r"通报|公告|公示|情况")

CLOSING_CUE_RE = re.compile(
    r"欢迎|联系方式|联系电话|联系人|电话|邮箱|信箱|地址|邮编|邮政编码|来信|来电|来访|反映|意见建议|"
    r"传真|[Ee]-?mail|@|＠"
)
SIGNATURE_TAIL_RE = re.compile(
    r"(?:党组|党委|委员会|委|院|局|办公室|办|组|部|厅|处|室|会|所|中心|政府|公司|集团|大学|"
    r"学校|医院|支部|总支)$"
)

PHONE_RE = re.compile(
    # Not inside an e-mail address or a longer number: "xc12388@163.com" holds no phone.
    r"(?<![A-Za-z0-9_.%+-])"
    r"(?:\(0\d{2,3}\)\s*\d{7,8}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|1[3-9]\d{9}|12\d{3})"
    r"(?![A-Za-z0-9@])"
)
LABELLED_PHONE_RE = re.compile(r"(?:电话|热线)\s*[:]?\s*(\d{7,8})(?!\d)")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
ADDRESS_RE = re.compile(
    r"(?:邮政信箱|通信地址|通讯地址|来信地址|邮寄地址|信件地址|(?<!邮箱)(?<!网)地址)\s*[:]?\s*([^;。\n]+)"
)
ADDRESS_CUT_RE = re.compile(r"[,，]?\s*(?:邮编|邮政编码).*$")
POSTCODE_RE = re.compile(r"(?:邮编|邮政编码)\s*[:]?\s*(\d{6})(?!\d)")

_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"([{FULL_DIGITS}]{{4}})\s*年\s*([{FULL_DIGITS}]{{1,2}})\s*月\s*"
        rf"([{FULL_DIGITS}]{{1,2}})\s*日$"
    ),
    re.compile(
        r"([〇零○Ｏ一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*"
        r"([一二三四五六七八九十]{1,3})\s*日$"
    ),
    re.compile(
        rf"([{FULL_DIGITS}]{{4}})\s*[-－./／]\s*([{FULL_DIGITS}]{{1,2}})\s*[-－./／]\s*"
        rf"([{FULL_DIGITS}]{{1,2}})$"
    ),
)


_DATE_ENDS = frozenset("日0123456789０１２３４５６７８９")


@dataclass(frozen=True)
class Line:
    no: int  # 1-based in the submitted text
    text: str  # stripped of indentation and trailing blanks


def cn_number(text: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20 (enough for headings, measures and dates)."""
    if "十" not in text:
        value = 0
        for char in text:
            value = value * 10 + _CN_DIGITS[char]
        return value
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def number(text: str) -> int:
    """Arabic (half- or full-width) or Chinese numeral."""
    if text[0] in _CN_DIGITS or text[0] == "十":
        return cn_number(text)
    return int(unicodedata.normalize("NFKC", text))


def split_sentence(text: str) -> tuple[str, str]:
    """'统一思想。深入学习…' → ('统一思想', '深入学习…'); no 。 → (text, '')."""
    head, mark, rest = text.partition("。")
    return (head, rest.strip()) if mark else (text, "")


def clip(text: str) -> str:
    return text[:40]


def normalise_lines(text: str) -> list[Line]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    lines = []
    for index, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip(WHITESPACE).strip()
        if stripped:
            lines.append(Line(index, stripped))
    return lines


def parse_date(text: str) -> tuple[datetime.date | None, bool, int]:
    """(date, matched, start): whether `text` ends with a date, and where that date begins."""
    if not text or text[-1] not in _DATE_ENDS:
        return None, False, 0
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            year, month, day = (number(part) for part in match.groups())
            try:
                return datetime.date(year, month, day), True, match.start()
            except ValueError:
                return None, True, match.start()
    return None, False, 0


def is_structural(text: str) -> bool:
    return bool(
        SECTION_RE.match(text)
        or SUBSECTION_RE.match(text)
        or NUMBERED_RE.match(text)
        or MEASURE_LINE_RE.match(text)
        or INTRO_RE.match(text)
        or STATUS_LINE_RE.match(text)
    )


def is_finding_only(text: str) -> bool:
    """Lines that only make sense inside a finding: （1）…, 整改情况：, （已完成整改）."""
    return bool(MEASURE_LINE_RE.match(text) or INTRO_RE.match(text) or STATUS_LINE_RE.match(text))


def looks_like_signature(text: str) -> bool:
    return (
        len(text) <= 40
        and not re.search(r"[。；;：:，,]", text)
        and not CLOSING_CUE_RE.search(text)
        and not is_structural(text)
    )


def is_title(text: str) -> bool:
    return (
        len(text) < 80
        and "。" not in text
        and bool(TITLE_WORD_RE.search(text))
        and not is_structural(text)
    )


def is_category_text(text: str) -> bool:
    return len(text) <= 80 and "。" not in text.rstrip("。") and bool(CATEGORY_RE.search(text))


def is_finding_text(text: str) -> bool:
    """Wording that only a finding's heading has: a quoted or unquoted problem, 整改情况：."""
    return bool(
        TITLE_RE.match(text)
        or (PROBLEM_HEAD_RE.match(text) and not is_category_text(text))
        or INTRO_ANYWHERE_RE.search(text)
    )


def is_plan_heading(text: str) -> bool:
    """An unnumbered plan heading such as "下一步工作打算"."""
    return len(text) <= 20 and not re.search(r"[。，,；;：:]", text) and bool(PLAN_RE.search(text))


# --------------------------------------------------------------------------- headings

# Conventional depth of each numbering style: 一、 > （一） > 问题1：/unnumbered > 1. > （1） > 1）①
RANKS = {"A": 0, "P": 0, "B": 1, "Q": 1.5, "U": 1.5, "C": 2, "D": 3, "E": 4}

# "主业聚焦不够问题。整改情况：…" or "X的问题。" followed by a line starting 整改情况：
UNNUMBERED_RE = re.compile(
    rf"^(?!{_INTRO_WORDS})(?P<title>[^。：:\n]{{2,60}}?)的?问题\s*[。：:；;]?\s*"
    rf"(?P<intro>{_INTRO_WORDS}\s*[:：])?"
)


@dataclass(frozen=True)
class Heading:
    kind: str  # A 一、  B （一）  C 1.  D （1）  E 1）①  Q 问题1：  U unnumbered finding  P plan
    number: int | None
    label: str  # the numbering as written, without its trailing mark ("1", "（1）", "问题1")
    content: str  # the text after the numbering

    @property
    def rank(self) -> float:
        return RANKS[self.kind]


@functools.lru_cache(maxsize=16384)
def heading(text: str) -> Heading | None:
    """The numbering a line starts with, if any (unnumbered findings and plans need context)."""
    if match := SECTION_RE.match(text):
        return Heading("A", number(match.group(1)), match.group(1), match.group(2))
    if match := SUBSECTION_RE.match(text):
        return Heading("B", number(match.group(1)), text[: match.start(2)].strip(), match.group(2))
    if match := NUMBERED_RE.match(text):
        return Heading("C", number(match.group(1)), match.group(1), match.group(2))
    if match := BRACKETED_RE.match(text):
        digits = re.sub(rf"[^{FULL_DIGITS}]", "", match.group(1))
        return Heading("D", number(digits), match.group(1).replace(" ", ""), match.group(2))
    if match := HALF_BRACKET_RE.match(text):
        digits = re.sub(rf"[^{FULL_DIGITS}]", "", match.group(1))
        return Heading("E", number(digits), match.group(1).replace(" ", ""), match.group(2))
    if match := CIRCLED_RE.match(text):
        value = ord(match.group(1)) - ord("①") + 1
        return Heading("E", value, match.group(1), match.group(2))
    if match := QUESTION_RE.match(text):
        label = match.group(1).replace(" ", "")
        return Heading("Q", number(match.group(2)), label, match.group(3))
    return None


def unnumbered_finding(text: str, following: str | None) -> Heading | None:
    """ "X问题。整改情况：…" (or "X问题。" with 整改情况： on the next line) as a heading."""
    match = UNNUMBERED_RE.match(text)
    if match is None or is_category_text(text):
        return None
    if match.group("intro") is None:
        rest = text[match.end() :].strip(WHITESPACE)
        if rest or following is None or not INTRO_RE.match(following):
            return None
    return Heading("U", None, "", text)


def plan_heading(text: str) -> Heading | None:
    return Heading("P", None, "", text) if is_plan_heading(text) else None
