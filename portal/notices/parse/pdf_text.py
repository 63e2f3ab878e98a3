"""A PDF notice's text layer as plain text, its paragraphs whole again.

pypdf gives the text with each printed line on a line of its own; a sentence wrapped at the
right margin must join back, or every wrapped heading and measure would split in two. Lines
are rebuilt from the positions pypdf reports, and a line joins the next one when it runs to the
right margin and the next one starts at the left margin (not indented as a new paragraph,
not numbered as a new heading or measure). Page numbers ("— 3 —", "第3页 共5页") are dropped.
A PDF without a text layer (a scan) is refused: there is nothing to read.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portal.notices.parse.patterns import INTRO_RE, STATUS_LINE_RE, Heading, heading, parse_date

if TYPE_CHECKING:
    from pypdf import PageObject

_PAGE_NUMBER_RE = re.compile(
    r"^(?:[-—–－\s]*\d{1,4}[-—–－\s]*|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+"
    r"|[Pp]age\s*\d+(?:\s*of\s*\d+)?)$"
)
_SENTENCE_ENDS = ("。", "！", "？", "；", "：", "”", "!", "?", ";", ":", "）", ")")
# Kangxi and CJK radicals some PDF fonts map common characters to (⼀ for 一, ⼈ for 人).
_RADICALS = re.compile("[\u2e80-\u2eff\u2f00-\u2fdf]")


@dataclass
class _Chunk:
    x: float
    y: float
    size: float
    text: str


@dataclass
class _Row:
    y: float
    size: float
    chunks: list[_Chunk] = field(default_factory=list)

    @property
    def start(self) -> float:
        return min(chunk.x for chunk in self.chunks)

    @property
    def end(self) -> float:
        last = max(self.chunks, key=lambda chunk: chunk.x)
        return last.x + _ems(last.text) * last.size

    @property
    def text(self) -> str:
        parts: list[str] = []
        previous: _Chunk | None = None
        for chunk in sorted(self.chunks, key=lambda c: c.x):
            if previous is not None:
                gap = chunk.x - (previous.x + _ems(previous.text) * previous.size)
                ascii_edge = _ascii_edge(previous.text[-1:], chunk.text[:1])
                if (
                    gap > (0.25 if ascii_edge else 0.8) * chunk.size
                    and not previous.text[-1:].isspace()
                ):
                    parts.append(" ")
            parts.append(chunk.text)
            previous = chunk
        return "".join(parts).strip()


def _ems(text: str) -> float:
    """Estimated advance in ems: CJK characters and CJK-font punctuation (“”…) one, others half."""
    return sum(1.0 if unicodedata.east_asian_width(char) in "WFA" else 0.5 for char in text)


def _ascii_edge(left: str, right: str) -> bool:
    return bool(left) and bool(right) and left.isascii() and right.isascii()


class PdfTextError(ValueError):
    pass


def _page_rows(page: PageObject) -> list[_Row]:
    chunks: list[_Chunk] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        text = text.replace("\n", "").replace("\r", "")
        if not text:
            return
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        chunks.append(_Chunk(x, y, (size or 12.0) * scale, text))

    page.extract_text(visitor_text=visit)
    rows: list[_Row] = []
    for chunk in sorted(chunks, key=lambda c: (-c.y, c.x)):
        if rows and abs(rows[-1].y - chunk.y) <= 0.35 * max(chunk.size, rows[-1].size):
            rows[-1].chunks.append(chunk)
            rows[-1].size = max(rows[-1].size, chunk.size)
        else:
            rows.append(_Row(chunk.y, chunk.size, [chunk]))
    return [row for row in rows if row.text and not _PAGE_NUMBER_RE.match(row.text)]


def _indented(rows: list[_Row], left: float) -> bool:
    """Do paragraphs start indented (two characters, as Chinese documents are set)?"""
    indented = sum(1 for row in rows if abs(row.start - left - 2 * row.size) <= 0.6 * row.size)
    return indented >= 3 and indented * 10 >= len(rows)


def _joined(left: str, right: str) -> str:
    if _ascii_edge(left[-1:], right[:1]) and left[-1:].isalnum() and right[:1].isalnum():
        return f"{left} {right}"
    return left + right


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfTextError("PDF已加密，无法读取文字")
        rows = [row for page in reader.pages for row in _page_rows(page)]
    except PdfReadError as exc:
        raise PdfTextError(f"无法读取PDF：{exc}") from exc
    if not rows:
        raise PdfTextError("PDF没有文字层（可能是扫描件），请上传文字版PDF或Word文件，或粘贴文本")
    left = min(row.start for row in rows)
    right = max(row.end for row in rows)
    indented = _indented(rows, left)
    lines: list[str] = []
    previous: _Row | None = None
    for row in rows:
        text = _RADICALS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), row.text)
        if previous is not None and _continues(previous, row, lines[-1], left, right, indented):
            lines[-1] = _joined(lines[-1], text)
        else:
            lines.append(text)
        previous = row
    return "\n".join(lines)


def _continues(
    above: _Row, row: _Row, paragraph: str, left: float, right: float, indented: bool
) -> bool:
    """Is `row` the rest of the paragraph `above` wrapped into? Widths are estimated from the
    characters (a few ems off at worst), so a line "ends at the margin" within three ems, or
    within eight when the layout or the sentence says it goes on: paragraphs are indented and
    this line is not, or the line above stops in mid-sentence."""
    size = max(above.size, row.size)
    if row.start > left + 0.6 * row.size:
        return _centred_continuation(above, row, left, right)
    if above.start > left + 2.6 * above.size:  # centred or right-aligned: never wrapped text
        return False
    head = heading(row.text)
    if head is not None and not _inline_next(head, paragraph):
        return False
    _, dated, start = parse_date(row.text)
    if INTRO_RE.match(row.text) or (dated and not start):
        return False
    if above.end >= right - 3 * size:
        return True
    if STATUS_LINE_RE.match(row.text):
        return False
    mid_sentence = not above.text.endswith(_SENTENCE_ENDS)
    return above.end >= right - 8 * size and (indented or mid_sentence)


def _inline_next(head: Heading, paragraph: str) -> bool:
    """ "…；（2）建立…" wrapped so that （2） starts the line: the paragraph above already holds
    （1） inside it, not at its start, so this is the same inline list going on."""
    if head.kind not in ("C", "D", "E") or not head.number or head.number < 2:
        return False
    previous = _MARKER_TEXT[head.kind](head.number - 1)
    return any(paragraph.find(marker, 1) > 0 for marker in previous)


_MARKER_TEXT = {
    "C": lambda n: (f"{n}.", f"{n}．", f"{n}、"),
    "D": lambda n: (f"（{n}）", f"({n})"),
    "E": lambda n: (f"{n}）", f"{n})", chr(ord("①") + n - 1) if n <= 20 else "\0"),
}


def _centred_continuation(above: _Row, row: _Row, left: float, right: float) -> bool:
    """A centred title too long for one line: a full-width line, then a centred rest."""
    size = max(above.size, row.size)
    full = above.start <= left + 3 * size and above.end >= right - 4 * size
    centred = row.start >= left + 4 * size and abs((row.start - left) - (right - row.end)) <= size
    return full and centred and heading(row.text) is None
