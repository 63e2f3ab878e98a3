"""Text normalisation before finding suggestions: one written form for what citizens type.

Full-width forms fold (NFKC), Latin letters lower-case, Cantonese written function words become
their Mandarin equivalents (before OpenCC, which would turn 係 into 系), and traditional
characters become simplified (OpenCC t2s, dictionaries shipped in the `opencc` wheel).
`without_negation` gives the variant that concept matching also reads, so 政策不落地 still
concerns 政策落地. Pure logic: no Flask import.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Protocol

__all__ = ["normalise", "without_negation"]

# Cantonese written forms -> Mandarin. Longest first so 冇得 wins over 冇. Only forms that are
# not ordinary Mandarin characters in another sense (仲, 啱 stay: 仲裁, 啱 is rare either way).
_CANTONESE = {
    "点解": "为什么",
    "乜嘢": "什么",
    "边个": "谁",
    "而家": "现在",
    "系咪": "是不是",
    "係咪": "是不是",
    "係唔係": "是不是",
    "有冇": "有没有",
    "冇得": "没有",
    "唔该": "请",
    "唔該": "请",
    "咗": "了",
    "嘅": "的",
    "啲": "些",
    "冇": "没有",
    "係": "是",
    "喺": "在",
    "揾": "找",
    "搵": "找",
    "俾": "给",
    "畀": "给",
    "唔": "不",
    "佢": "他",
    "哋": "们",
    "嘢": "东西",
    "睇": "看",
    "噉": "这样",
    "咁": "这么",
    "嚟": "来",
    "攞": "拿",
    "揸": "开",
    "乜": "什么",
}
_CANTONESE_RE = re.compile("|".join(sorted(map(re.escape, _CANTONESE), key=len, reverse=True)))

# A negator directly before a word: 不落地, 没有公开, 未整改. Removing it lets concept forms
# written positively match; the score never depends on the polarity of the complaint.
_NEGATION = re.compile(r"(?:没有|并未|从未|从不|不|没|未|无)(?=[\u4e00-\u9fff])")


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


_lock = threading.Lock()
_converter: _Converter | None = None


def _t2s() -> _Converter:
    """OpenCC's traditional -> simplified converter, loaded once per process."""
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """NFKC, lower case, Cantonese function words to Mandarin, traditional to simplified."""
    folded = unicodedata.normalize("NFKC", text).lower()
    mandarin = _CANTONESE_RE.sub(lambda m: _CANTONESE[m.group(0)], folded)
    return _t2s().convert(mandarin)


def without_negation(text: str) -> str:
    """The normalised text with negators before a word removed (不落地 -> 落地)."""
    return _NEGATION.sub("", text)
