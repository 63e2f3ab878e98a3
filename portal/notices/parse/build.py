"""Rebuild a notice's structure from the role of each line (guessed, or given in the preview).

A line's role says what it is; its numbering says where it goes: a `narrative` or `plan` line
numbered like the current section starts a new section, one numbered one level down starts a
subsection (a plan item), anything else is body text. A `category` line numbered 一、 (or like
its section) is a section that is its own category; a `finding` line starts a finding unless it
continues the heading just above it (its problem description); `measure` lines belong to the
open finding.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from portal.notices.parse.closing import check_counts, read_contacts
from portal.notices.parse.findings import FindingDraft, read_finding
from portal.notices.parse.patterns import (
    GROUP_RE,
    PLAN_RE,
    RANKS,
    WHITESPACE,
    Heading,
    Line,
    clip,
    heading,
    parse_date,
    plan_heading,
    split_sentence,
    unnumbered_finding,
)
from portal.notices.parse.structure import (
    Category,
    Contacts,
    Finding,
    LineRole,
    NoticeParseError,
    ParsedNotice,
    ParseWarning,
    Section,
    Subsection,
)


@dataclass
class _Sub:
    number: int
    head: str
    lines: list[str] = field(default_factory=list)


@dataclass
class _Cat:
    number: int | None
    head: str
    line: int
    extra: list[str] = field(default_factory=list)
    findings: list[FindingDraft] = field(default_factory=list)


@dataclass
class _Sec:
    number: int
    head: str
    kind: str | None  # numbering style of its heading; None: no heading (implicit)
    line: int
    plan: bool = False
    is_category: bool = False  # "一、关于…方面": the section is its own category
    lines: list[str] = field(default_factory=list)
    subs: list[_Sub] = field(default_factory=list)
    sub_kind: str | None = None
    categories: list[_Cat] = field(default_factory=list)
    direct: list[FindingDraft] = field(default_factory=list)

    @property
    def rank(self) -> float:
        return RANKS[self.kind] if self.kind else -1

    def has_findings(self) -> bool:
        return bool(self.direct or self.categories or self.is_category)


@dataclass
class _State:
    lines: list[Line]
    roles: list[str]
    title: list[str] = field(default_factory=list)
    preamble: list[Line] = field(default_factory=list)
    sections: list[_Sec] = field(default_factory=list)
    section: _Sec | None = None
    sub: _Sub | None = None
    category: _Cat | None = None
    finding: FindingDraft | None = None
    closing: list[Line] = field(default_factory=list)
    signature: list[Line] = field(default_factory=list)
    line_roles: list[LineRole] = field(default_factory=list)

    def error(self, line: Line, message: str) -> NoticeParseError:
        return NoticeParseError(line.no, line.text, message, self.line_roles)

    def new_section(self, head: Heading | None, line: Line, *, plan: bool = False) -> _Sec:
        value = head.number if head and head.number is not None else 0
        section = _Sec(value, head.content if head else "", head.kind if head else None, line.no)
        section.plan = plan
        self.sections.append(section)
        self.section, self.sub, self.category, self.finding = section, None, None, None
        return section

    def implicit_section(self, line: Line, *, plan: bool = False) -> _Sec:
        section = _Sec(0, "", None, line.no, plan=plan)
        self.sections.append(section)
        self.section, self.sub, self.category, self.finding = section, None, None, None
        return section

    def text_to(self, text: str) -> None:
        if self.sub is not None:
            self.sub.lines.append(text)
        elif self.section is not None:
            self.section.lines.append(text)


def build(lines: list[Line], roles: list[str], notes: dict[int, str]) -> ParsedNotice:
    state = _State(lines, roles)
    state.line_roles = [
        LineRole(line.no, role, line.text) for line, role in zip(lines, roles, strict=True)
    ]
    warnings: list[ParseWarning] = []
    dropped: list[tuple[int, str]] = []
    container_after = _containers_after(lines, roles)
    previous = ""
    for index, (line, role) in enumerate(zip(lines, roles, strict=True)):
        following = lines[index + 1].text if index + 1 < len(lines) else None
        if role == "title":
            state.title.append(line.text)
        elif role == "preamble":
            state.preamble.append(line)
        elif role == "narrative":
            _narrative(state, line)
        elif role == "plan":
            _plan(state, line)
        elif role == "category":
            _category(state, line, previous)
        elif role == "finding":
            _finding(state, line, previous, following, container_after[index])
        elif role == "measure":
            if state.finding is None:
                raise state.error(line, f"第{line.no}行无法归入任何部分：{clip(line.text)}")
            state.finding.rest.append(line)
        elif role == "contacts":
            state.closing.append(line)
        elif role == "signature":
            state.signature.append(line)
        else:
            dropped.append((line.no, line.text))
            if index in notes:
                warnings.append(ParseWarning(line.no, notes[index]))
        previous = role
    return _assemble(state, warnings, dropped)


def _containers_after(lines: list[Line], roles: list[str]) -> list[bool]:
    """For each line: does a category or a numbered section come later?"""
    found = [False] * len(lines)
    seen = False
    for index in range(len(lines) - 1, -1, -1):
        found[index] = seen
        role = roles[index]
        if role == "category" or (role == "narrative" and heading(lines[index].text)):
            seen = True
    return found


def _narrative(state: _State, line: Line) -> None:
    head = heading(line.text)
    section = state.section
    state.finding = None
    if head is not None and (
        section is None
        or section.kind is None
        or head.kind == section.kind
        or head.rank < section.rank
    ):
        state.new_section(head, line)
        return
    if section is None:
        section = state.implicit_section(line)
    if head is not None and section.sub_kind in (None, head.kind):
        section.sub_kind = head.kind
        state.sub = _Sub(head.number or 0, head.content)
        section.subs.append(state.sub)
        return
    state.text_to(line.text)


def _plan(state: _State, line: Line) -> None:
    head = heading(line.text) or plan_heading(line.text)
    section = state.section
    state.finding, state.category = None, None
    if section is None or not section.plan:
        if head is not None and (
            head.kind in ("A", "P")
            or PLAN_RE.search(head.content)
            or (section is not None and section.kind is not None and head.kind == section.kind)
        ):
            state.new_section(head, line, plan=True)
            return
        section = state.implicit_section(line, plan=True)
    elif head is not None and section.kind is not None and head.kind == section.kind:
        state.new_section(head, line, plan=True)
        return
    if head is not None and head.kind != "P" and section.sub_kind in (None, head.kind):
        section.sub_kind = head.kind
        state.sub = _Sub(head.number or 0, head.content)
        section.subs.append(state.sub)
        return
    state.text_to(line.text)


def _category(state: _State, line: Line, previous: str) -> None:
    head = heading(line.text)
    section = state.section
    if head is None and previous == "category":  # more of the category's heading
        if state.category is not None and not state.category.findings:
            state.category.extra.append(line.text)
            return
        if section is not None and section.is_category and not section.direct:
            section.lines.append(line.text)
            return
    state.finding = None
    if head is not None and (
        head.kind == "A"
        or (section is not None and section.kind is not None and head.kind == section.kind)
    ):
        state.new_section(head, line).is_category = True
        return
    if section is None or section.plan:
        section = state.implicit_section(line)
    value = head.number if head is not None else None
    state.category = _Cat(value, head.content if head else line.text, line.no)
    section.categories.append(state.category)
    state.sub = None


def _finding(
    state: _State, line: Line, previous: str, following: str | None, container_after: bool
) -> None:
    head = heading(line.text)
    current = state.finding
    if head is None:
        unnumbered = unnumbered_finding(line.text, following)
        continues = current is not None and previous == "finding"
        if continues and current is not None and not (unnumbered and not current.label):
            current.head_lines.append(line)  # the problem, described under its heading
            return
        head = unnumbered or Heading("U", None, "", line.text)
    draft = FindingDraft(head.number, head.label, line.no, head.content)
    if state.category is not None:
        state.category.findings.append(draft)
    elif state.section is not None and not state.section.plan:
        state.section.direct.append(draft)
    elif container_after or not (state.title or state.preamble):
        raise state.error(
            line, f"第{line.no}行：编号的问题出现在任何类别或部分之前：{clip(line.text)}"
        )
    else:  # a notice (title, preamble) without any category: one unnamed category holds all
        state.implicit_section(line)
        state.category = _Cat(0, "", line.no)
        assert state.section is not None
        state.section.categories.append(state.category)
        state.category.findings.append(draft)
    state.finding = draft


# --------------------------------------------------------------------------- assembly


def _numbers(groups: list[list[FindingDraft]]) -> tuple[list[int], bool]:
    """Final finding numbers in reading order, and whether the source's own were kept.

    The source's numbers are kept when they number the whole notice; they are replaced by the
    reading order when the numbering restarts in each category (1, 2 | 1, 2, 3) or when some
    findings carry no number at all. The label keeps what the source wrote either way.
    """
    drafts = [draft for group in groups for draft in group]
    source = [draft.number for draft in drafts]
    reading = list(range(1, len(drafts) + 1))
    if any(value is None for value in source):
        return reading, False
    runs = [[d.number for d in group] for group in groups if group]
    restarts = len(runs) >= 2 and all(run == list(range(1, len(run) + 1)) for run in runs)
    if restarts:
        return reading, False
    return [value for value in source if value is not None], True


def _check_numbers(findings: list[Finding], warnings: list[ParseWarning]) -> None:
    """Findings are keyed by number downstream: a gap or a repeat needs an editor's look."""
    previous = 0
    seen: set[int] = set()
    for finding in findings:
        value, line = finding.number, finding.line
        if value in seen:
            warnings.append(ParseWarning(line, f"第{line}行：问题编号{value}重复"))
        elif value != previous + 1:
            warnings.append(ParseWarning(line, f"第{line}行：问题编号从{previous}跳到{value}"))
        seen.add(value)
        previous = value


def _assemble(
    state: _State, warnings: list[ParseWarning], dropped: list[tuple[int, str]]
) -> ParsedNotice:
    groups: list[list[FindingDraft]] = []
    for section in state.sections:
        if section.direct:
            groups.append(section.direct)
        groups += [category.findings for category in section.categories]
    numbers, kept = _numbers(groups)
    numbered = iter(numbers)

    def read(drafts: list[FindingDraft]) -> list[Finding]:
        return [read_finding(draft, next(numbered), warnings) for draft in drafts]

    sections: list[Section] = []
    categories: list[Category] = []
    plan: list[Subsection] = []
    for block in state.sections:
        title, rest = split_sentence(block.head)
        body = "\n".join(part for part in [rest, *block.lines] if part)
        subsections = [_subsection(sub) for sub in block.subs]
        if block.plan or not block.has_findings():
            if block.number or block.head or block.lines or subsections:
                kind = "plan" if block.plan else "narrative"
                sections.append(Section(block.number, title, body, subsections, kind))
            if block.plan and not plan:
                plan = subsections
            continue
        if block.number or block.head:
            sections.append(Section(block.number, title, body, subsections, "findings"))
        if block.direct or block.is_category:
            if not block.direct and not block.categories:
                warnings.append(
                    ParseWarning(block.line, f"第{block.line}行：类别“{clip(title)}”下没有问题")
                )
            categories.append(Category(block.number, title, read(block.direct)))
        for child in block.categories:
            categories.append(_category_out(child, read, warnings))
    _unique_category_numbers(categories)

    first = state.lines[0]
    if not any(category.findings for category in categories):
        raise state.error(first, f"第{first.no}行：未找到任何编号的问题")
    if kept:
        _check_numbers([f for c in categories for f in c.findings], warnings)
    check_counts(state.preamble, categories, warnings)

    closing = "\n".join(line.text for line in state.closing)
    contacts = read_contacts(closing)
    if contacts == Contacts(None, None, None, None):
        where = state.closing[0].no if state.closing else _last_body_line(state)
        warnings.append(ParseWarning(where, f"第{where}行：未找到联系方式"))
    signed_by, signed_on = _signature(state, warnings)

    preamble = "\n".join(line.text for line in state.preamble)
    title = "".join(state.title) or _derived_title(preamble, signed_by)
    warnings.sort(key=lambda warning: warning.line)
    return ParsedNotice(
        title=title,
        preamble=preamble,
        sections=sections,
        categories=categories,
        plan=plan,
        closing=closing,
        contacts=contacts,
        signed_by=signed_by,
        signed_on=signed_on,
        warnings=warnings,
        line_roles=state.line_roles,
        dropped=dropped,
    )


def _subsection(sub: _Sub) -> Subsection:
    title, rest = split_sentence(sub.head)
    return Subsection(sub.number, title, "\n".join(part for part in [rest, *sub.lines] if part))


def _category_out(
    child: _Cat, read: Callable[[list[FindingDraft]], list[Finding]], warnings: list[ParseWarning]
) -> Category:
    title, rest = split_sentence(child.head)
    if rest or child.extra:
        warnings.append(
            ParseWarning(
                child.line,
                f"第{child.line}行：类别“{clip(title)}”下第一个问题之前的文字未归入任何问题",
            )
        )
    if not child.findings:
        warnings.append(
            ParseWarning(child.line, f"第{child.line}行：类别“{clip(title)}”下没有问题")
        )
    return Category(child.number or 0, title, read(child.findings))


def _unique_category_numbers(categories: list[Category]) -> None:
    """Categories are keyed by number too: unnumbered or repeated ones take the reading order."""
    values = [category.number for category in categories]
    if len(set(values)) != len(values) or (len(values) > 1 and 0 in values):
        for index, category in enumerate(categories, start=1):
            category.number = index


def _last_body_line(state: _State) -> int:
    for line, role in zip(reversed(state.lines), reversed(state.roles), strict=True):
        if role not in ("signature", "dropped"):
            return line.no
    return state.lines[-1].no


def _signature(
    state: _State, warnings: list[ParseWarning]
) -> tuple[str | None, datetime.date | None]:
    signed_on = None
    names: list[str] = []
    dated = False
    for line in state.signature:
        date, matched, start = parse_date(line.text)
        if not matched:
            names.append(line.text)
            continue
        prefix = line.text[:start].strip(WHITESPACE).strip()
        if prefix and not re.search(r"[：:]", prefix):
            names.append(prefix)
        if dated:
            continue
        dated = True
        signed_on = date
        if date is None:
            warnings.append(
                ParseWarning(line.no, f"第{line.no}行：落款日期无效：{clip(line.text)}")
            )
    if not dated:
        last = state.lines[-1].no
        warnings.append(ParseWarning(last, f"第{last}行：未找到落款日期"))
    return (" ".join(names) or None), signed_on


def _derived_title(preamble: str, signed_by: str | None) -> str:
    """No title line at all (the notice starts with its preamble): name it as offices do."""
    group = GROUP_RE.search(preamble)
    signer = signed_by or ""
    if group:
        return f"{signer}关于{group.group(0)}巡察集中整改进展情况的通报"
    return f"{signer}关于巡察整改进展情况的通报"
