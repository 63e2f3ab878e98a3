"""Line diffs between two revisions of a notice's source text (pure: no Flask)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass
class DiffLine:
    kind: str  # add, del, ctx, hunk
    text: str


def text_diff(old: str, new: str, *, context: int = 2) -> list[DiffLine]:
    """A unified line diff for people: rendered with Jinja, so every line is escaped."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context)
    out = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append(DiffLine(kind, line if kind == "hunk" else line[1:]))
    return out
