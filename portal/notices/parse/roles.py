"""Line roles given in the preview: checked, applied over the guessed ones, carried over to a
later revision of the same text.

A role given to one line also settles the lines that plainly go with it, unless the editor
gave those a role too: after a line made a `finding`, the lines the importer had read as
narrative, plan, category or preamble text, up to the next heading numbered at the same level
or higher, are its measures; after a line taken out of a finding (made narrative, plan or
preamble), the importer's measure lines under it follow it. Everything else keeps its guess.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from portal.notices.parse.patterns import RANKS, Line, heading, normalise_lines
from portal.notices.parse.structure import ROLES, NoticeParseError

_CARRIES = {
    "finding": frozenset({"narrative", "plan", "category", "preamble"}),
    "narrative": frozenset({"measure", "finding"}),
    "plan": frozenset({"measure", "finding"}),
    "preamble": frozenset({"measure", "finding"}),
}


# Share of characters two versions of one line keep in common to count as the same line.
_REWORDED = 0.6


def check_roles(roles: Mapping[int, str]) -> None:
    for line, role in roles.items():
        if role not in ROLES:
            raise NoticeParseError(line, "", f"第{line}行：未知的行角色“{role}”")


def apply_roles(lines: list[Line], guessed: list[str], given: Mapping[int, str]) -> list[str]:
    """The roles to build from: the editor's where given, the guesses elsewhere (see above)."""
    check_roles(given)
    final = list(guessed)
    carrying: tuple[str, float] | None = None
    for index, line in enumerate(lines):
        head = heading(line.text)
        role = given.get(line.no)
        if role is not None:
            final[index] = role
            level = head.rank if head else RANKS["U"]
            carrying = (role, level) if role in _CARRIES else None
            continue
        if carrying is None:
            continue
        role, level = carrying
        if (head is not None and head.rank <= level) or guessed[index] not in _CARRIES[role]:
            carrying = None
            continue
        final[index] = "measure" if role == "finding" else role
    return final


def carry_over(old_text: str, roles: Mapping[int, str], new_text: str) -> dict[int, str]:
    """The roles given to `old_text`, moved to the same lines of `new_text` (a later revision):
    lines kept word for word keep their role, and so does a line reworded in place (mostly the
    same text where one line replaced one line, e.g. a finding whose measure was updated); new
    lines and lines rewritten beyond recognition get none (guessed again)."""
    old = normalise_lines(old_text)
    new = normalise_lines(new_text)
    matcher = difflib.SequenceMatcher(
        a=[line.text for line in old], b=[line.text for line in new], autojunk=False
    )
    moved: dict[int, str] = {}
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag not in ("equal", "replace") or a_end - a_start != b_end - b_start:
            continue
        for offset in range(a_end - a_start):
            before, after = old[a_start + offset], new[b_start + offset]
            role = roles.get(before.no)
            if role is not None and (tag == "equal" or _reworded(before.text, after.text)):
                moved[after.no] = role
    return moved


def _reworded(before: str, after: str) -> bool:
    return difflib.SequenceMatcher(a=before, b=after, autojunk=False).ratio() >= _REWORDED
