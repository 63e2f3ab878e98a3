"""parse_notice: text (and the editor's line roles, if any) → ParsedNotice."""

from __future__ import annotations

from collections.abc import Mapping

from portal.notices.parse.build import build
from portal.notices.parse.classify import classify
from portal.notices.parse.patterns import normalise_lines
from portal.notices.parse.roles import apply_roles
from portal.notices.parse.structure import NoticeParseError, ParsedNotice


def parse_notice(text: str, roles: Mapping[int, str] | None = None) -> ParsedNotice:
    """Read a notice; raise NoticeParseError when it cannot be read, warn when it is doubtful.

    `roles` maps 1-based line numbers of `text` to one of structure.ROLES; a given role
    overrides the importer's guess for that line and the structure is rebuilt from the roles.
    Roles of blank or missing lines are ignored.
    """
    lines = normalise_lines(text)
    if not lines:
        raise NoticeParseError(1, "", "第1行：公示内容为空")
    guess = classify(lines)
    given = dict(roles or {})
    final = apply_roles(lines, guess.roles, given)
    notes = {
        index: message
        for index, message in guess.notes.items()
        if lines[index].no not in given and final[index] == "dropped"
    }
    return build(lines, final, notes)
