"""Small server-side SVG bar charts for the staff dashboard: no JavaScript, no CDN.

Pure functions returning SVG markup; every label is XML-escaped. Colours are presentation
attributes (not style attributes), which the site's Content-Security-Policy allows. A bar with
a link is an <a> around its rect and number: clicking it opens the queue filtered to what it
counts. Room for labels is measured from the text (a CJK character is about 1 em wide, a Latin
one about 0.6 em), so no label is clipped at the edge; the page shows the wide chart on a
desktop and the narrow one (labels above the bars) on a phone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

BAR_COLOUR = "#2b6cb0"
TEXT_COLOUR = "#222"
GRID_COLOUR = "#767676"
FONT = "font-family=\"'Noto Sans CJK SC','Microsoft YaHei',sans-serif\""
WIDE = 640  # a desktop chart's width in px
NARROW = 340  # a phone's: 375 px less the page's margins

# (label, value) or (label, value, href of the filtered queue)
Item = tuple[str, int] | tuple[str, int, str | None]


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def text_width(text: str, size: float) -> float:
    """The width of ``text`` at font ``size`` px, erring wide: full-width characters 1 em,
    others 0.62 em."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.62 for c in text)


def fit(text: str, room: float, size: float) -> str:
    """``text`` cut with an ellipsis so that it is at most ``room`` px wide."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def _parts(item: Item) -> tuple[str, int, str | None]:
    label, value = item[0], item[1]
    href = item[2] if len(item) > 2 else None
    return label, value, href


def _link(href: str | None, label: str, value: int, body: str) -> str:
    if not href:
        return body
    name = _attr(f"{label}: {value}")  # an ASCII colon reads right in both languages
    return f'<a href="{_attr(href)}" aria-label="{name}">{body}</a>'


def _open(width: float, height: float, title: str, size: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" {FONT} font-size="{size}" class="bars">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="14" fill="{TEXT_COLOUR}">'
        f"{escape(fit(title, width, 14))}</text>",
    ]


def horizontal_bars(
    items: Sequence[Item],
    *,
    title: str,
    width: int = WIDE,
    bar_height: int = 22,
    size: int = 13,
    narrow: bool = False,
) -> str:
    """One bar per item. Wide: the label left of its bar, the label column as wide as the
    longest label (at most 40 % of the chart). Narrow: each label on its own line above its
    bar, so a phone keeps the whole width for both."""
    gap = 8
    top = 28
    rows = [_parts(i) for i in items]
    peak = max((v for _, v, _h in rows), default=0) or 1
    number_room = text_width(str(peak), size) + 8
    longest = max((text_width(label, size) for label, _v, _h in rows), default=0)
    label_width = 0.0 if narrow else min(longest + 10, width * 0.4)
    line = size + 6 if narrow else 0  # the label's own line above the bar
    room = max(width - label_width - number_room, 1)
    step = line + bar_height + gap
    height = top + len(rows) * step + 4
    parts = _open(width, height, title, size)
    for i, (label, value, href) in enumerate(rows):
        y = top + i * step + line
        length = round(room * value / peak)
        text_y = y + bar_height * 0.7
        if narrow:
            label_svg = (
                f'<text x="0" y="{y - 5}" fill="{TEXT_COLOUR}"><title>{escape(label)}</title>'
                f"{escape(fit(label, width, size))}</text>"
            )
        else:
            label_svg = (
                f'<text x="{label_width - 6:.0f}" y="{text_y:.1f}" text-anchor="end" '
                f'fill="{TEXT_COLOUR}"><title>{escape(label)}</title>'
                f"{escape(fit(label, label_width - 6, size))}</text>"
            )
        bar = (
            f'<rect x="{label_width:.0f}" y="{y}" width="{length}" height="{bar_height}" '
            f'fill="{BAR_COLOUR}"><title>{_attr(label)}: {value}</title></rect>'
            f'<text x="{label_width + length + 4:.0f}" y="{text_y:.1f}" '
            f'fill="{TEXT_COLOUR}">{value}</text>'
        )
        parts += [label_svg, _link(href, label, value, bar)]
    parts.append("</svg>")
    return "".join(parts)


def vertical_bars(
    items: Sequence[Item],
    *,
    title: str,
    width: int = WIDE,
    height: int = 220,
    size: int = 11,
) -> str:
    """A column per item, e.g. weeks. The left margin fits the highest count; labels are
    centred under their columns, as many as fit without overlapping, none past an edge."""
    rows = [_parts(i) for i in items]
    top, bottom = 28, 36
    peak = max((v for _, v, _h in rows), default=0) or 1
    left = text_width(str(peak), size) + 8
    plot_h = height - top - bottom
    plot_w = width - left - 4
    step = plot_w / max(len(rows), 1)
    bar_w = max(1.0, step * 0.8)
    widest = max((text_width(label, size) for label, _v, _h in rows), default=0)
    label_every = max(1, math.ceil((widest + 6) / step))
    base = top + plot_h
    parts = _open(width, height, title, size)
    parts += [
        f'<line x1="{left:.1f}" y1="{base}" x2="{width - 4}" y2="{base}" stroke="{GRID_COLOUR}"/>',
        f'<text x="{left - 4:.1f}" y="{top + 10}" text-anchor="end" fill="{TEXT_COLOUR}">'
        f"{peak}</text>",
        f'<text x="{left - 4:.1f}" y="{base}" text-anchor="end" fill="{TEXT_COLOUR}">0</text>',
    ]
    for i, (label, value, href) in enumerate(rows):
        bar_h = plot_h * value / peak
        x = left + i * step
        bar = (
            f'<rect x="{x:.1f}" y="{base - bar_h:.1f}" width="{bar_w:.1f}" '
            f'height="{max(bar_h, 0):.1f}" fill="{BAR_COLOUR}">'
            f"<title>{_attr(label)}: {value}</title></rect>"
        )
        parts.append(_link(href, label, value, bar))
        if i % label_every == 0:
            half = text_width(label, size) / 2
            centre = min(max(x + bar_w / 2, half), width - half)
            parts.append(
                f'<text x="{centre:.1f}" y="{base + 14}" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
