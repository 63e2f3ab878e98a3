"""Small server-side SVG bar charts for the staff dashboard: no JavaScript, no CDN.

Pure functions returning SVG markup; every label is XML-escaped. Colours are presentation
attributes (not style attributes), which the site's Content-Security-Policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

BAR_COLOUR = "#2b6cb0"
TEXT_COLOUR = "#222"
GRID_COLOUR = "#ccc"
FONT = "font-family=\"'Noto Sans CJK SC','Microsoft YaHei',sans-serif\""


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def horizontal_bars(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    width: int = 640,
    label_width: int = 220,
    bar_height: int = 22,
    max_label: int = 18,
) -> str:
    """One bar per (label, value), longest label cut to ``max_label`` characters."""
    gap = 6
    top = 28
    height = top + len(items) * (bar_height + gap) + 8
    peak = max((v for _, v in items), default=0) or 1
    room = width - label_width - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT} font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" fill="{TEXT_COLOUR}">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + gap)
        shown = label if len(label) <= max_label else label[: max_label - 1] + "…"
        length = round(room * value / peak)
        parts += [
            f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
            f'fill="{TEXT_COLOUR}"><title>{escape(label)}</title>{escape(shown)}</text>',
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" '
            f'fill="{BAR_COLOUR}"><title>{_attr(label)}: {value}</title></rect>',
            f'<text x="{label_width + length + 4}" y="{y + bar_height * 0.7:.1f}" '
            f'fill="{TEXT_COLOUR}">{value}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def vertical_bars(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    label_every: int = 4,
) -> str:
    """A column per (label, value), e.g. weeks; every ``label_every``-th label is printed."""
    top, bottom, left = 28, 36, 40
    plot_h = height - top - bottom
    plot_w = width - left - 8
    peak = max((v for _, v in items), default=0) or 1
    step = plot_w / max(len(items), 1)
    bar_w = max(1.0, step * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT} font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13" fill="{TEXT_COLOUR}">'
        f"{escape(title)}</text>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        f'stroke="{GRID_COLOUR}"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" fill="{TEXT_COLOUR}">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="{TEXT_COLOUR}">0</text>',
    ]
    for i, (label, value) in enumerate(items):
        bar_h = plot_h * value / peak
        x = left + i * step
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
            f'height="{bar_h:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{_attr(label)}: {value}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" fill="{TEXT_COLOUR}">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
