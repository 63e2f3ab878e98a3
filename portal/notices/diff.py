"""What changed between two revisions of a notice's source text, for people (pure: no Flask).

`text_diff` is the staff's line diff; `sentence_diff` is the public page's: the removed and
added sentences, because a notice's paragraphs are long and one changed word in a paragraph
should not show the whole paragraph twice. Neither shows unified-diff headers ("@@ -8,5 +8,5 @@").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass
class DiffLine:
    kind: str  # add, del, ctx, gap (unchanged lines left out between two changes)
    text: str


# A sentence ends after 。；！？ (full- or half-width) or at a line end.
_SENTENCE_END = re.compile(r"(?<=[。；！？;!?])|\n")


def text_diff(old: str, new: str, *, context: int = 2) -> list[DiffLine]:
    """A line diff with `context` unchanged lines around each change: rendered with Jinja, so
    every line is escaped."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    out: list[DiffLine] = []
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index:
            out.append(DiffLine("gap", "⋯"))
        for tag, a_start, a_end, b_start, b_end in group:
            if tag == "equal":
                out += [DiffLine("ctx", line) for line in old_lines[a_start:a_end]]
                continue
            out += [DiffLine("del", line) for line in old_lines[a_start:a_end]]
            out += [DiffLine("add", line) for line in new_lines[b_start:b_end]]
    return out


def sentences(text: str) -> list[str]:
    """The text's sentences, stripped, blanks left out; the ending punctuation stays."""
    parts = (part.strip(" \t\r\u3000") for part in _SENTENCE_END.split(text))
    return [part for part in parts if part]


def sentence_diff(old: str, new: str) -> list[DiffLine]:
    """The sentences `new` removed from `old` (del) and added (add), in reading order."""
    old_sentences, new_sentences = sentences(old), sentences(new)
    matcher = difflib.SequenceMatcher(a=old_sentences, b=new_sentences, autojunk=False)
    out: list[DiffLine] = []
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        out += [DiffLine("del", s) for s in old_sentences[a_start:a_end]]
        out += [DiffLine("add", s) for s in new_sentences[b_start:b_end]]
    return out
