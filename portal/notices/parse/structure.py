"""What a parsed notice is made of: the dataclasses every other module of the portal reads."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import NamedTuple

# The role an editor can give each line in the preview; the structure is rebuilt from them.
ROLES: tuple[str, ...] = (
    "title",
    "preamble",
    "category",
    "finding",
    "measure",
    "narrative",
    "plan",
    "contacts",
    "signature",
    "dropped",
)


@dataclass(frozen=True)
class Measure:
    number: int
    text: str
    # The measure's own marker (（已完成）, （持续推进）…) when each measure carries one.
    status: str | None = None


@dataclass
class Finding:
    number: int  # unique in the notice, in reading order when the source restarts its numbering
    title: str
    measures: list[Measure]
    status: str | None
    line: int
    label: str = ""  # the source's own numbering as written: "3", "（1）", "问题2", "" (none)
    description: str = ""  # the problem as described before 整改情况：


@dataclass
class Category:
    number: int
    title: str
    findings: list[Finding]


@dataclass
class Subsection:
    number: int
    title: str
    body: str


@dataclass
class Section:
    number: int
    title: str
    body: str
    subsections: list[Subsection]
    # "narrative", "findings" (its subsections became the categories) or "plan".
    kind: str = "narrative"


@dataclass
class Contacts:
    phone: str | None
    email: str | None
    address: str | None
    postcode: str | None


_LINE_PREFIX_RE = re.compile(r"^第\d+行[：:]?")


@dataclass(frozen=True)
class ParseWarning:
    line: int
    message: str  # starts with "第N行" once: print it as it is, never prefix the line again

    @property
    def detail(self) -> str:
        """The message without its "第N行：" prefix, for a list that shows line numbers itself."""
        return _LINE_PREFIX_RE.sub("", self.message, count=1)

    def __str__(self) -> str:
        return self.message


class LineRole(NamedTuple):
    """One non-blank line of the submitted text: its 1-based number, its role, its text."""

    line: int
    role: str
    text: str


@dataclass
class ParsedNotice:
    title: str
    preamble: str
    sections: list[Section]
    categories: list[Category]
    plan: list[Subsection]
    closing: str
    contacts: Contacts
    signed_by: str | None
    signed_on: datetime.date | None
    warnings: list[ParseWarning]
    # Every non-blank line with the role it was read in (given by the editor or guessed), so the
    # preview can show and correct all of it; `dropped` lists what is never published (website
    # text around the notice, lines after the signature).
    line_roles: list[LineRole] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [finding for category in self.categories for finding in category.findings]


class NoticeParseError(ValueError):
    """The text cannot be read as a notice; `line` is 1-based in the submitted text.

    `line_roles` holds the role of every line as far as it could be guessed, so the preview can
    still offer the role editor for a notice the importer cannot structure on its own.
    """

    def __init__(
        self, line: int, text: str, message: str, line_roles: list[LineRole] | None = None
    ) -> None:
        super().__init__(message)
        self.line = line
        self.text = text
        self.message = message
        self.line_roles: list[LineRole] = list(line_roles or [])

    def __str__(self) -> str:
        return self.message
