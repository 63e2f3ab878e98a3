"""One finding's text → its title, problem description, measures and statuses.

Statuses, as the notice writes them: a status on its own after the measures, or after a heading
that holds nothing else, is the finding's. When each measure carries its own marker (sub-items
such as "（1）关于“…”的问题。…（已完成）"), each measure keeps it and the finding's status is
derived from all of them, never from the last one alone:

- every marker the same → that marker, as written;
- any marker still open (持续推进, 整改中, 基本完成, 未完成 …) → 整改中;
- otherwise, any 长期坚持/长期推进 → 长期坚持; otherwise (only 已完成/已完成整改/已整改) → 已完成;
- a marker on the last measure only is the finding's own (it closes the whole paragraph);
- some measures marked and others not, none open → no status, with a warning: the notice does
  not say, and the portal must not claim completion on its behalf.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from portal.notices.parse.patterns import (
    FULL_DIGITS,
    INTRO_ANYWHERE_RE,
    INTRO_RE,
    STATUS_END_RE,
    STATUS_LINE_RE,
    STATUS_WORDS,
    TITLE_FALLBACK_RE,
    TITLE_RE,
    WHITESPACE,
    Line,
    clip,
    cn_number,
    number,
)
from portal.notices.parse.structure import Finding, Measure, ParseWarning

DONE_STATUSES = frozenset({"已完成整改", "已完成", "已整改"})
LASTING_STATUSES = frozenset({"长期坚持", "长期推进"})


@dataclass
class FindingDraft:
    number: int | None  # as numbered in the source (None: unnumbered)
    label: str
    line: int
    head: str  # the heading line after its numbering
    head_lines: list[Line] = field(default_factory=list)  # more of the heading: the problem
    rest: list[Line] = field(default_factory=list)  # 整改情况： and the measures


_MarkerWalk = tuple[re.Pattern[str], Callable[[str], int]]
_MARKER_STYLES: tuple[_MarkerWalk, ...] = (
    (re.compile(r"([一二三四五六七八九十]{1,3})是"), cn_number),
    (re.compile(rf"[(（]\s*([{FULL_DIGITS}]{{1,2}})\s*[)）]"), number),
    (re.compile(r"([①-⑳])"), lambda char: ord(char) - ord("①") + 1),
    (re.compile(rf"([{FULL_DIGITS}]{{1,2}})\s*[.．、](?![{FULL_DIGITS}])"), number),
    (re.compile(rf"([{FULL_DIGITS}]{{1,2}})\s*[)）]"), number),
)
_BOUNDARY_CHARS = frozenset("。；;：:！!？?\n")
# "（1）……（已完成）（2）……": a status marker closes the sub-item before the next one.
_AFTER_STATUS_RE = re.compile(rf"[(（【\[]\s*(?:{STATUS_WORDS})\s*[)）】\]]\s*$")
_DESCRIPTION_LABEL_RE = re.compile(
    r"^(?:问题表现|存在问题|问题描述|具体表现|主要表现|问题情况|表现为|具体问题)\s*[:：]\s*"
)
_TITLE_EDGES = (re.compile(r"^(?:关于|针对)\s*"), re.compile(r"的?问题(?:的?整改)?$"))


def _at_boundary(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in WHITESPACE:
        index -= 1
    if index < 0 or text[index] in _BOUNDARY_CHARS:
        return True
    return text[index] in ")）】]" and bool(_AFTER_STATUS_RE.search(text, 0, index + 1))


def _walk_markers(text: str, style: _MarkerWalk) -> list[tuple[int, int]]:
    """(start, end) of markers 1, 2, 3… in sequence, each at a sentence boundary."""
    pattern, value_of = style
    expected = 1
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        if value_of(match.group(1)) == expected and _at_boundary(text, match.start()):
            spans.append((match.start(), match.end()))
            expected += 1
    return spans


def _first_walk(text: str) -> list[tuple[int, int]]:
    walks = [spans for style in _MARKER_STYLES if (spans := _walk_markers(text, style))]
    return min(walks, key=lambda found: found[0][0]) if walks else []


# A status written as the last sentence of the finding's text rather than as a marker:
# "…。目前已整改完成。", "…。该项整改持续推进中。". The sentence stays in the published wording;
# the finding's status is read from it. Only a short sentence that is nothing but the status
# counts, so "已完成排查，正在整改3处" is never read as a status.
_CLOSING_STATUS_RE = re.compile(
    r"(?:^|[。；;！!])\s*(?:目前|现|现已|截至目前|该项(?:问题)?(?:整改)?|此项(?:整改)?|本项(?:整改)?|"
    r"该问题)?\s*[，,]?\s*(?P<status>已整改完成|已整改到位|已完成整改|已完成|已整改|整改完成|"
    r"基本完成整改|基本完成|正在持续推进|持续推进|持续整改|正在整改|整改中|正在推进|长期坚持)"
    r"(?:中|到位)?\s*[。.]?\s*$"
)
_CLOSING_STATUS_NAMES = {
    "已整改完成": "已完成",
    "已整改到位": "已完成",
    "整改完成": "已完成",
    "正在持续推进": "持续推进",
}


def closing_status(text: str) -> str | None:
    """The status a finding's text states in its last sentence, or None."""
    found = _CLOSING_STATUS_RE.search(text.strip(WHITESPACE + "\n"))
    if found is None:
        return None
    status = found.group("status")
    return _CLOSING_STATUS_NAMES.get(status, status)


def _measure_text(text: str) -> str:
    text = text.strip(WHITESPACE + "\n")
    if text.endswith(("；", ";")):
        text = text[:-1].rstrip(WHITESPACE)
    return text


def _take_statuses(text: str) -> tuple[str, str | None, str | None]:
    """Strip status markers ending a line (or standing alone on one).

    (text, the status of this text, a status line standing after one: the whole finding's)."""
    status = None
    after = None
    kept = []
    for line in text.split("\n"):
        if whole := STATUS_LINE_RE.match(line.strip(WHITESPACE)):
            found = next(group for group in whole.groups() if group)
            if status is None:
                status = found
            else:
                after = found
            continue
        if end := STATUS_END_RE.search(line):
            status = end.group(1)
            line = line[: end.start()]
        kept.append(line)
    return "\n".join(kept), status, after


def _clean_title(title: str) -> str:
    """ "关于X的问题" → "X" for a heading written without quotes."""
    cleaned = title.strip(WHITESPACE)
    for edge in _TITLE_EDGES:
        shorter = edge.sub("", cleaned)
        if len(shorter) >= 2:
            cleaned = shorter
    return cleaned


def _split_title(head: str) -> tuple[str, str, str | None]:
    """(title, what follows it on the heading line, the heading's own status)."""
    status = None
    core = head
    if end := STATUS_END_RE.search(head):
        core, status = head[: end.start()], end.group(1)
    if match := TITLE_RE.match(core):
        title, rest = match.group("title"), core[match.end() :]
    elif match := TITLE_FALLBACK_RE.match(core):
        title, rest = _clean_title(match.group("title")), core[match.end() :]
    else:
        title, rest = _clean_title(core), ""
    if status is not None and rest.strip(WHITESPACE):
        rest = head[len(core) - len(rest) :]  # the marker closes the measures written after
        status = None
    return title, rest, status


def derive_status(statuses: list[str]) -> str:
    if len(set(statuses)) == 1:
        return statuses[0]
    if any(s not in DONE_STATUSES and s not in LASTING_STATUSES for s in statuses):
        return "整改中"
    if any(s in LASTING_STATUSES for s in statuses):
        return "长期坚持"
    return "已完成"


def read_finding(draft: FindingDraft, number_: int, warnings: list[ParseWarning]) -> Finding:
    title, rest, own = _split_title(draft.head)
    heading_text = "\n".join([rest.strip(WHITESPACE), *(line.text for line in draft.head_lines)])
    measure_text = "\n".join(line.text for line in draft.rest)
    body = "\n".join(part for part in (heading_text, measure_text) if part.strip())

    description = ""
    intro = INTRO_ANYWHERE_RE.search(body)
    walk = _first_walk(body)
    changed = False
    if intro is not None and (not walk or intro.start() <= walk[0][0]):
        description, body, changed = body[: intro.start()], body[intro.end() :], True
    elif draft.head_lines and measure_text.strip():
        description, body, changed = heading_text, measure_text, True
    description = _DESCRIPTION_LABEL_RE.sub("", description.strip(WHITESPACE + "\n"))
    parts = body.split("\n")
    kept = [INTRO_RE.sub("", part) for part in parts]
    kept = [part for part in kept if part.strip()]
    if changed or kept != parts:
        body = "\n".join(kept)
        walk = _first_walk(body)

    measures: list[Measure] = []
    if walk:
        prefix, prefix_status, _ = _take_statuses(body[: walk[0][0]])
        own = own or prefix_status
        if prefix.strip(WHITESPACE + "\n"):
            warnings.append(
                ParseWarning(
                    draft.line,
                    f"第{draft.line}行：问题{number_}在第一项整改措施前的文字未归入任何措施："
                    f"{clip(prefix.strip())}",
                )
            )
        ends = [start for start, _ in walk[1:]] + [len(body)]
        for index, ((_, end), stop) in enumerate(zip(walk, ends, strict=True), start=1):
            text, status, after = _take_statuses(body[end:stop])
            measures.append(Measure(index, _measure_text(text), status))
            own = after or own
    elif body.strip():
        text, status, after = _take_statuses(body)
        own = after or own
        if text.strip(WHITESPACE + "\n"):
            measures.append(Measure(1, _measure_text(text), status))
        else:
            own = own or status

    if not measures or any(not measure.text for measure in measures):
        warnings.append(
            ParseWarning(draft.line, f"第{draft.line}行：问题{number_}没有整改措施内容")
        )
    if own is None and measures and not any(m.status for m in measures):
        own = closing_status(measures[-1].text)
    status, measures = _finding_status(own, measures, draft.line, number_, warnings)
    return Finding(
        number_, title, measures, status, draft.line, label=draft.label, description=description
    )


def _finding_status(
    own: str | None,
    measures: list[Measure],
    line: int,
    number_: int,
    warnings: list[ParseWarning],
) -> tuple[str | None, list[Measure]]:
    marked = [m.status for m in measures if m.status]
    if own is not None or not marked:
        return own, measures
    if len(marked) == len(measures):
        return derive_status(marked), measures
    if measures[-1].status and len(marked) == 1:  # "…；（2）…。（持续推进）": the whole finding's
        last = measures[-1]
        return last.status, [*measures[:-1], Measure(last.number, last.text, None)]
    if any(s not in DONE_STATUSES and s not in LASTING_STATUSES for s in marked):
        return "整改中", measures
    warnings.append(
        ParseWarning(
            line,
            f"第{line}行：问题{number_}有的整改措施标注了完成情况，有的没有，未推定问题的整改状态",
        )
    )
    return None, measures
