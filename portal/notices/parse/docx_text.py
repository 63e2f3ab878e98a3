"""A .docx notice as plain text: paragraphs and table cells in reading order, with Word's
automatic list numbering written out as the numbers a reader sees (一、 （一） 1. （1） ①).

Numbering follows numbering.xml: a paragraph's w:numPr (or its style's) names a w:num, which
points to a w:abstractNum whose levels give the start, the format (decimal, chineseCounting,
decimalEnclosedCircle…) and the text ("%1、", "（%1）", "%1.%2"). Counters run per abstract
list, a w:startOverride restarts them, and a level's counter restarts below any higher level.
Deleted text (tracked changes), text boxes and field codes are left out, as Word shows them.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_SKIP_TEXT_IN = frozenset(
    {f"{_W}del", f"{_W}moveFrom", f"{_W}txbxContent", f"{_W}instrText", _MC_FALLBACK}
)
_CN_UNITS = "一二三四五六七八九"
_CN_LEGAL = "壹贰叁肆伍陆柒捌玖"


def _cn(value: int, digits: str = _CN_UNITS, ten: str = "十") -> str:
    if value <= 0:
        return str(value)
    if value >= 100:
        return str(value)
    tens, ones = divmod(value, 10)
    head = "" if tens == 0 else (ten if tens == 1 else digits[tens - 1] + ten)
    return head + (digits[ones - 1] if ones else "")


def _letters(value: int, upper: bool) -> str:
    text = ""
    while value > 0:
        value, rest = divmod(value - 1, 26)
        text = chr(ord("A" if upper else "a") + rest) + text
    return text


def _roman(value: int) -> str:
    numerals = (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    )  # fmt: skip
    text = ""
    for amount, numeral in numerals:
        while value >= amount:
            text, value = text + numeral, value - amount
    return text


def format_number(value: int, fmt: str) -> str:
    """One counter in one of Word's numFmt styles."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "taiwaneseCounting",
               "taiwaneseCountingThousand", "japaneseCounting"):  # fmt: skip
        return _cn(value)
    if fmt == "chineseLegalSimplified":
        return _cn(value, _CN_LEGAL, "拾")
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join("〇一二三四五六七八九"[int(d)] for d in str(value))
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= value <= 20:
        return chr(ord("①") + value - 1)
    if fmt == "decimalEnclosedParen" and 1 <= value <= 20:
        return chr(ord("⑴") + value - 1)
    if fmt == "decimalEnclosedFullstop" and 1 <= value <= 20:
        return chr(ord("⒈") + value - 1)
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return "".join(chr(ord(d) + 0xFEE0) for d in str(value))
    if fmt == "decimalZero":
        return f"{value:02d}"
    if fmt == "ideographTraditional" and 1 <= value <= 10:
        return "甲乙丙丁戊己庚辛壬癸"[value - 1]
    if fmt == "ideographZodiac" and 1 <= value <= 12:
        return "子丑寅卯辰巳午未申酉戌亥"[value - 1]
    if fmt in ("lowerLetter", "upperLetter"):
        return _letters(value, fmt == "upperLetter")
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(value)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt in ("bullet", "none"):
        return ""
    return str(value)


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    # w:lvlRestart: None restarts after any higher level, 0 never, n after level n (1-based).
    restart: int | None = None


@dataclass
class _Numbering:
    abstract: dict[str, dict[int, _Level]] = field(default_factory=dict)
    # numId -> (abstractNumId, {ilvl: startOverride})
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)
    counters: dict[str, list[int | None]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)

    def label(self, num_id: str, ilvl: int) -> str:
        if num_id not in self.nums:
            return ""
        abstract_id, overrides = self.nums[num_id]
        levels = self.abstract.get(abstract_id, {})
        counters = self.counters.setdefault(abstract_id, [None] * 9)
        if num_id not in self.started:
            self.started.add(num_id)
            for overridden, start in overrides.items():
                counters[overridden] = start - 1
        level = levels.get(ilvl, _Level())
        value = counters[ilvl]
        counters[ilvl] = level.start if value is None else value + 1
        for deeper in range(ilvl + 1, 9):
            restart = levels.get(deeper, _Level()).restart
            if restart is None or (restart != 0 and ilvl < restart):
                counters[deeper] = None

        def render(match: re.Match[str]) -> str:
            index = int(match.group(1)) - 1
            if not 0 <= index < 9:
                return ""
            shown = levels.get(index, _Level())
            current = counters[index]
            return format_number(shown.start if current is None else current, shown.fmt)

        if level.fmt == "bullet":
            return ""
        return re.sub(r"%([1-9])", render, level.text)


def _attr(element: Any, tag: str) -> str | None:
    child = element.find(f"{_W}{tag}") if element is not None else None
    return None if child is None else child.get(f"{_W}val")


def _read_numbering(document: Any) -> _Numbering:
    numbering = _Numbering()
    try:
        root = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return numbering
    for abstract in root.iter(f"{_W}abstractNum"):
        levels: dict[int, _Level] = {}
        for lvl in abstract.iter(f"{_W}lvl"):
            ilvl = int(lvl.get(f"{_W}ilvl", "0"))
            start = _attr(lvl, "start")
            restart = _attr(lvl, "lvlRestart")
            levels[ilvl] = _Level(
                start=int(start) if start and start.lstrip("-").isdigit() else 1,
                fmt=_attr(lvl, "numFmt") or "decimal",
                text=_attr(lvl, "lvlText") or "",
                restart=int(restart) if restart and restart.isdigit() else None,
            )
        numbering.abstract[abstract.get(f"{_W}abstractNumId", "")] = levels
    for num in root.iter(f"{_W}num"):
        overrides: dict[int, int] = {}
        for override in num.iter(f"{_W}lvlOverride"):
            start = _attr(override, "startOverride")
            if start and start.isdigit():
                overrides[int(override.get(f"{_W}ilvl", "0"))] = int(start)
        abstract_id = _attr(num, "abstractNumId") or ""
        numbering.nums[num.get(f"{_W}numId", "")] = (abstract_id, overrides)
    return numbering


def _style_numbering(document: Any) -> dict[str, tuple[str | None, int | None]]:
    """Style id -> (numId, ilvl) through basedOn chains ("List Number", custom headings)."""
    found: dict[str, tuple[str | None, int | None]] = {}
    parents: dict[str, str] = {}
    for style in document.styles.element.iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId", "")
        based = _attr(style, "basedOn")
        if based:
            parents[style_id] = based
        ppr = style.find(f"{_W}pPr")
        numpr = ppr.find(f"{_W}numPr") if ppr is not None else None
        if numpr is not None:
            ilvl = _attr(numpr, "ilvl")
            found[style_id] = (_attr(numpr, "numId"), int(ilvl) if ilvl else None)
    resolved: dict[str, tuple[str | None, int | None]] = {}
    for style_id in set(found) | set(parents):
        seen, current = set(), style_id
        while current and current not in found and current not in seen:
            seen.add(current)
            current = parents.get(current, "")
        if current in found:
            resolved[style_id] = found[current]
    return resolved


def _run_text(paragraph: Any) -> str:
    parts: list[str] = []
    for element in paragraph.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"):
        if any(parent.tag in _SKIP_TEXT_IN for parent in element.iterancestors()):
            continue
        if element.tag == f"{_W}t":
            parts.append(element.text or "")
        elif element.tag == f"{_W}tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts)


def _paragraph_label(
    paragraph: Any, numbering: _Numbering, styles: dict[str, tuple[str | None, int | None]]
) -> str:
    ppr = paragraph.find(f"{_W}pPr")
    num_id: str | None = None
    ilvl: int | None = None
    if ppr is not None:
        style = _attr(ppr, "pStyle")
        if style and style in styles:
            num_id, ilvl = styles[style]
        numpr = ppr.find(f"{_W}numPr")
        if numpr is not None:
            num_id = _attr(numpr, "numId") or num_id
            level = _attr(numpr, "ilvl")
            ilvl = int(level) if level and level.isdigit() else ilvl
    if not num_id or num_id == "0":
        return ""
    return numbering.label(num_id, min(ilvl or 0, 8))


def docx_text(data: bytes) -> str:
    import docx  # python-docx: imported here so plain-text parsing never pays for it

    document = docx.Document(io.BytesIO(data))
    numbering = _read_numbering(document)
    styles = _style_numbering(document)
    lines: list[str] = []

    def walk(container: Any) -> None:
        for child in container.iterchildren():
            if child.tag == f"{_W}p":
                label = _paragraph_label(child, numbering, styles)
                lines.append(label + _run_text(child))
            elif child.tag == f"{_W}tbl":
                for row in child.iterchildren(f"{_W}tr"):
                    for cell in row.iterchildren(f"{_W}tc"):
                        walk(cell)
            elif child.tag in (f"{_W}sdt",):
                content = child.find(f"{_W}sdtContent")
                if content is not None:
                    walk(content)

    walk(document.element.body)
    return "\n".join(lines)


def is_docx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False
