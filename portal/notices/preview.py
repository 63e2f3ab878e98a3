"""What the editors' preview shows besides the structure: the role editor's rows, the warnings
(each once, with the line it jumps to) and the counts the publish confirmation names.
Pure: no Flask, so it is tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from portal.notices.parse import LineRole, NoticeParseError, ParsedNotice, parse_notice


@dataclass(frozen=True)
class RoleRow:
    line: int
    role: str
    text: str
    given: bool  # the editor chose this role (else the importer guessed it)
    warned: bool  # a warning names this line


@dataclass(frozen=True)
class WarningItem:
    line: int
    detail: str  # without the "第N行：" prefix: the template shows the line itself


@dataclass
class Preview:
    rows: list[RoleRow]
    warnings: list[WarningItem]
    dropped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Counts:
    categories: int
    findings: int
    measures: int


class _FindingLike(Protocol):
    @property
    def measures(self) -> Any: ...


def shown_roles(text: str, given: Mapping[int, str]) -> list[LineRole]:
    """Every line's role as the preview shows it, also when the notice cannot be structured."""
    try:
        return parse_notice(text, roles=given).line_roles
    except NoticeParseError as exc:
        return exc.line_roles


def build_preview(
    parsed: ParsedNotice | None,
    rows: Iterable[LineRole],
    given: Mapping[int, str],
    error: NoticeParseError | None = None,
) -> Preview:
    """The role editor's rows and the warnings; an importer error counts as a warning."""
    warnings: list[WarningItem] = []
    seen: set[tuple[int, str]] = set()
    found = [(w.line, w.detail) for w in parsed.warnings] if parsed is not None else []
    if error is not None:
        found.append((error.line, _without_line(error.message)))
    for line, detail in found:
        if (line, detail) not in seen:
            seen.add((line, detail))
            warnings.append(WarningItem(line, detail))
    warned = {item.line for item in warnings}
    return Preview(
        rows=[
            RoleRow(row.line, row.role, row.text, row.line in given, row.line in warned)
            for row in rows
        ],
        warnings=warnings,
        dropped=list(parsed.dropped) if parsed is not None else [],
    )


def _without_line(message: str) -> str:
    head, sep, rest = message.partition("：")
    return rest if sep and head.startswith("第") and head.endswith("行") else message


def notice_counts(categories: Iterable[Any], findings: Iterable[_FindingLike]) -> Counts:
    """Categories, findings and measures, for the publish confirmation."""
    finding_list = list(findings)
    return Counts(
        categories=len(list(categories)),
        findings=len(finding_list),
        measures=sum(len(f.measures) for f in finding_list),
    )
