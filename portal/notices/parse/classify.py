"""Guess the role of every line of a notice (see structure.ROLES).

Three passes: website text is set aside (chrome.py); the notice's title, closing, signature and
date are found at its two ends; the body between them is read as a tree of headings by their
numbering style (一、 > （一） > 1. > （1） > 1）…, whatever levels a notice actually uses), and
each heading is then told apart by what it says and what stands under it: a finding names a
problem (“X”问题, X的问题。, 问题1：) or has 整改情况：/status lines under it; a category reads
…方面 or holds findings; a section holds categories, or is narrative or the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.notices.parse.chrome import head_chrome, is_footer, is_tail_text, website_lines
from portal.notices.parse.patterns import (
    CLOSING_CUE_RE,
    INTRO_ANYWHERE_RE,
    NUMBERED_RE,
    PLAN_RE,
    PROBLEM_HEAD_RE,
    SIGNATURE_TAIL_RE,
    STATUS_END_RE,
    STATUS_LINE_RE,
    TITLE_RE,
    WHITESPACE,
    Heading,
    Line,
    clip,
    heading,
    is_category_text,
    is_finding_only,
    is_finding_text,
    is_structural,
    is_title,
    looks_like_signature,
    number,
    parse_date,
    plan_heading,
    unnumbered_finding,
)


@dataclass
class Guess:
    roles: list[str]  # one per line
    # Warnings that hold only while a line keeps its guessed role (index -> message).
    notes: dict[int, str] = field(default_factory=dict)


def classify(lines: list[Line]) -> Guess:
    roles = ["dropped"] * len(lines)
    notes: dict[int, str] = {}
    chrome = website_lines(lines)
    kept = [index for index in range(len(lines)) if index not in chrome]
    if not kept:
        return Guess(roles, notes)
    start, above = head_chrome([lines[index] for index in kept])
    notice = [index for position, index in enumerate(kept) if position not in above]
    text = [lines[index] for index in notice]

    del start  # head_chrome dropped everything above the title: it now comes first
    tail = _read_tail(text)
    title_count = _title_count(text)
    body_start = title_count
    closing_start = max(tail.closing_start, body_start)
    body_end = max(tail.body_end, body_start)

    local = ["dropped"] * len(text)
    for position in range(title_count):
        local[position] = "title"
    body_roles = _classify_body(text[body_start:closing_start])
    local[body_start:closing_start] = body_roles
    for position in range(closing_start, body_end):
        local[position] = "contacts"
    for position in tail.signature:
        local[position] = "signature"
    for position, message in tail.notes.items():
        notes[notice[position]] = message
    for position, index in enumerate(notice):
        roles[index] = local[position]
    return Guess(roles, notes)


def _title_count(lines: list[Line]) -> int:
    """How many lines the title takes at the top: one, or an issuer line then "关于…的通报"."""
    if not lines:
        return 0
    first = lines[0].text
    if is_title(first):
        return 1
    if (
        len(lines) > 1
        and SIGNATURE_TAIL_RE.search(first)
        and looks_like_signature(first)
        and lines[1].text.startswith("关于")
        and is_title(lines[1].text)
    ):
        return 2
    return 0


# --------------------------------------------------------------------------- the tail


@dataclass
class _Tail:
    body_end: int  # position where the body (and closing) stops
    closing_start: int
    signature: list[int]  # positions of the signer and date lines
    notes: dict[int, str]


def _date_candidates(lines: list[Line]) -> list[int]:
    """Positions of lines ending the notice with a date (alone or after the signer)."""
    found = []
    for position, line in enumerate(lines):
        _, matched, start = parse_date(line.text)
        if not matched:
            continue
        prefix = line.text[:start].strip(WHITESPACE).strip()
        if prefix and not (looks_like_signature(prefix) and SIGNATURE_TAIL_RE.search(prefix)):
            continue
        found.append(position)
    return found


def _read_tail(lines: list[Line]) -> _Tail:
    notes: dict[int, str] = {}
    candidates = _date_candidates(lines)
    if not candidates:
        end = len(lines)
        while end > 0 and is_tail_text(lines[end - 1].text):
            end -= 1
        signature = []
        if (
            end > 0
            and looks_like_signature(lines[end - 1].text)
            and SIGNATURE_TAIL_RE.search(lines[end - 1].text)
        ):
            end -= 1
            signature.append(end)
        return _Tail(end, _closing_start(lines, end), signature, notes)

    # A dated line inside the body is not the signature date: prefer one after the last
    # heading (footers are not headings, so a footer cannot push the date out).
    headings = [
        position
        for position, line in enumerate(lines)
        if (head := heading(line.text)) is not None
        and head.kind in ("A", "B", "C")
        and not is_footer(line.text)
    ]
    last_heading = headings[-1] if headings else -1
    after = [position for position in candidates if position > last_heading]
    date_at = (after or candidates)[0]
    for position in range(date_at + 1, len(lines)):
        text = lines[position].text
        if not is_tail_text(text):
            notes[position] = f"第{lines[position].no}行：落款日期之后的内容已忽略：{clip(text)}"
    signature = [date_at]
    body_end = date_at
    _, _, start = parse_date(lines[date_at].text)
    has_prefix = bool(lines[date_at].text[:start].strip(WHITESPACE).strip())
    if not has_prefix and date_at > 0 and looks_like_signature(lines[date_at - 1].text):
        body_end = date_at - 1
        signature.insert(0, body_end)
    return _Tail(body_end, _closing_start(lines, body_end), signature, notes)


def _closing_start(lines: list[Line], body_end: int) -> int:
    start = body_end
    while start > 0:
        text = lines[start - 1].text
        if is_structural(text) or not CLOSING_CUE_RE.search(text):
            break
        start -= 1
    return start


# --------------------------------------------------------------------------- the body


@dataclass
class _Node:
    head: Heading | None  # None: the root, above every heading
    at: int  # position in the body (-1 for the root)
    parent: _Node | None = None
    plain: list[int] = field(default_factory=list)  # lines under it before its first child
    children: list[_Node] = field(default_factory=list)
    has_intro: bool = False  # saw 整改情况： so "1." lines below are measures
    numbered_measures: int = 0
    is_finding: bool = False

    @property
    def kind(self) -> str | None:
        return self.head.kind if self.head else None

    @property
    def rank(self) -> float:
        return self.head.rank if self.head else -1

    @property
    def content(self) -> str:
        return self.head.content if self.head else ""

    def note_intro(self, text: str) -> None:
        """Remember 整改情况：, and a "1." written right after it on the same line."""
        intro = INTRO_ANYWHERE_RE.search(text)
        if intro is None:
            return
        self.has_intro = True
        inline = NUMBERED_RE.match(text[intro.end() :].lstrip(WHITESPACE))
        if inline:
            self.numbered_measures = number(inline.group(1))

    def positions(self) -> list[int]:
        """Every line of this heading and what stands under it."""
        found = [self.at, *self.plain] if self.head else list(self.plain)
        for child in self.children:
            found += child.positions()
        return found


def _may_hold_unnumbered(stack: list[_Node]) -> bool:
    """Unnumbered findings ("X问题。整改情况：") stand right under a category or a section."""
    top = stack[-1]
    if top.kind in (None, "A", "B", "U"):
        return True
    if top.kind == "C" and is_category_text(top.content):
        return True
    return top.kind in ("D", "E") and len(stack) > 2 and stack[-2].kind == "U"


def _tree(body: list[Line]) -> _Node:
    root = _Node(None, -1)
    stack = [root]
    for position, line in enumerate(body):
        text = line.text
        head = heading(text)
        if head is None and _may_hold_unnumbered(stack):
            following = body[position + 1].text if position + 1 < len(body) else None
            head = unnumbered_finding(text, following)
        if head is None:
            head = plan_heading(text)
        if head is None:
            stack[-1].plain.append(position)
            stack[-1].note_intro(text)
            continue
        same = next((node for node in reversed(stack) if node.kind == head.kind), None)
        if (
            same is not None
            and head.number is not None
            and same.has_intro
            and head.number == same.numbered_measures + 1
            and not is_finding_text(head.content)
        ):  # "整改情况：\n1.…\n2.…": measures of the finding above, not new headings
            same.numbered_measures = head.number
            stack[-1].plain.append(position)
            continue
        if same is not None:
            while stack[-1] is not same:
                stack.pop()
            stack.pop()
        else:
            while len(stack) > 1 and stack[-1].rank >= head.rank:
                stack.pop()
        node = _Node(head, position, stack[-1])
        stack[-1].children.append(node)
        stack.append(node)
        node.note_intro(head.content)
    return root


def _strong(node: _Node, body: list[Line]) -> bool:
    """The heading itself says it is a finding."""
    if node.kind in ("A", "P") or is_category_text(node.content):
        return False
    if node.kind in ("Q", "U") or node.has_intro or TITLE_RE.match(node.content):
        return True
    if PROBLEM_HEAD_RE.match(node.content):
        return True
    texts = [body[position].text for position in node.plain]
    if any(STATUS_LINE_RE.match(text) or STATUS_END_RE.search(text) for text in texts):
        return True
    return node.kind != "B" and bool(STATUS_END_RE.search(node.content))


def _is_plan(node: _Node) -> bool:
    return node.kind == "P" or bool(PLAN_RE.search(node.content))


def _mark_findings(parent: _Node, body: list[Line], found: list[bool]) -> None:
    """Mark finding headings under `parent`; `found[0]` says the section already has one."""
    strong_kinds = {
        child.kind for child in parent.children if child.kind != "A" and _strong(child, body)
    }
    for child in parent.children:
        if parent.head is None and _is_plan(child):
            continue
        if child.kind in ("A", "P") or is_category_text(child.content):
            is_finding = False
        elif _strong(child, body) or child.kind in strong_kinds:
            is_finding = True
        elif child.kind == "C":
            following = body[child.at + 1].text if child.at + 1 < len(body) else ""
            is_finding = (
                is_category_text(parent.content)
                or found[0]
                or (bool(child.plain or child.children) and is_finding_only(following))
            )
        else:
            is_finding = False
        if is_finding:
            child.is_finding = True
            found[0] = True
        else:
            _mark_findings(child, body, found)


def _has_findings(node: _Node) -> bool:
    return any(child.is_finding or _has_findings(child) for child in node.children)


def _classify_body(body: list[Line]) -> list[str]:
    roles = ["narrative"] * len(body)
    root = _tree(body)
    for position in root.plain:
        roles[position] = "measure" if is_finding_only(body[position].text) else "preamble"
    for top in root.children:
        if top.kind in ("C", "D", "E", "Q", "U", "B") and _strong(top, body) and not _is_plan(top):
            top.is_finding = True
        if top.is_finding:  # a finding outside any section or category
            _assign_finding(top, body, roles)
            continue
        if _is_plan(top) and not _has_findings(top):
            for position in top.positions():
                roles[position] = "plan"
            continue
        _mark_findings(top, body, [False])
        if any(child.is_finding for child in top.children):
            _assign_category(top, body, roles)  # a section that is its own category
        elif _has_findings(top):
            roles[top.at] = "narrative"
            _assign_plain(top, body, roles, "narrative")
            for child in top.children:
                _assign_category(child, body, roles)
        else:
            for position in top.positions():
                roles[position] = "narrative"
    return roles


def _assign_plain(node: _Node, body: list[Line], roles: list[str], role: str) -> None:
    for position in node.plain:
        roles[position] = "measure" if is_finding_only(body[position].text) else role


def _assign_category(node: _Node, body: list[Line], roles: list[str]) -> None:
    roles[node.at] = "category"
    _assign_plain(node, body, roles, "category")
    for child in node.children:
        if child.is_finding:
            _assign_finding(child, body, roles)
        elif _has_findings(child):
            _assign_category(child, body, roles)
        else:
            role = "measure" if is_finding_only(body[child.at].text) else "category"
            for position in child.positions():
                roles[position] = role


def _assign_finding(node: _Node, body: list[Line], roles: list[str]) -> None:
    """Heading and problem description: finding; 整改情况： and what follows: measure."""
    roles[node.at] = "finding"
    describing = not INTRO_ANYWHERE_RE.search(node.content) and any(
        INTRO_ANYWHERE_RE.search(body[position].text) for position in node.plain
    )
    for position in node.plain:
        text = body[position].text
        if describing and (INTRO_ANYWHERE_RE.search(text) or is_finding_only(text)):
            describing = False
        roles[position] = "finding" if describing else "measure"
    for child in node.children:
        for position in child.positions():
            roles[position] = "measure"
