"""Line roles (issue #14's preview): the role the importer gave every line is exposed, roles an
editor gives override it and the structure is rebuilt from them, and the corrections move to a
later revision of the same text.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.notices.parse import (
    ROLES,
    NoticeParseError,
    ParsedNotice,
    carry_over,
    parse_notice,
)
from tests.test_notice_parse import FIXTURES, SEED_NOTICE, _notices, _serialised

DEV = [
    SEED_NOTICE,
    *(p for p in sorted(FIXTURES.glob("*.txt")) if not p.name.startswith("heldout-")),
]


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _own_roles(notice: ParsedNotice) -> dict[int, str]:
    return {line: role for line, role, _ in notice.line_roles}


@pytest.mark.parametrize("path", DEV, ids=[p.stem for p in DEV])
def test_every_non_blank_line_has_one_role(path: Path) -> None:
    text = _text(path)
    notice = parse_notice(text)
    non_blank = [
        (number, line.strip(" \t\r\u3000\ufeff"))
        for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1)
        if line.strip(" \t\r\u3000\ufeff")
    ]
    assert [(line, body) for line, _, body in notice.line_roles] == non_blank
    assert {role for _, role, _ in notice.line_roles} <= set(ROLES)


@pytest.mark.parametrize("path", DEV, ids=[p.stem for p in DEV])
def test_giving_back_the_guessed_roles_changes_nothing(path: Path) -> None:
    text = _text(path)
    notice = parse_notice(text)
    assert parse_notice(text, roles=_own_roles(notice)) == notice


@given(generated=_notices())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_guessed_roles_rebuild_the_same_notice_for_generated_notices(generated: object) -> None:
    text = generated.text  # type: ignore[attr-defined]
    notice = parse_notice(text)
    assert parse_notice(text, roles=_own_roles(notice)) == notice


# --------------------------------------------------------------------------- an editor's fixes

# Findings written without any of the wording the importer recognises ("1.X。" with neither
# quotes, 问题, 整改情况： nor a status), categories without 方面, a site banner it does not know.
MISREAD = "\n".join(
    [
        "云川在线 新闻中心推荐阅读",  # 1 a banner the importer keeps as the preamble
        "云川市某某局关于巡察整改情况的公示",  # 2
        "根据市委统一部署，市委第一巡察组对我局进行了巡察。现将整改情况公示如下。",  # 3
        "一、存在问题及整改情况",  # 4
        "（一）党建工作",  # 5
        "1.学习制度执行不严格。修订学习制度，每月集中学习一次。",  # 6
        "2.台账不全",  # 7
        "补齐2023年以来的会议台账。",  # 8
        "（二）业务工作",  # 9
        "3.审批时限过长。压缩审批时限至5个工作日。",  # 10
        "二、下一步打算",  # 11
        "继续巩固整改成果。",  # 12
        "联系电话：0763-1234567。",  # 13
        "云川市某某局",  # 14
        "2024年3月1日",  # 15
    ]
)


def test_a_notice_the_importer_cannot_structure_still_offers_its_roles() -> None:
    with pytest.raises(NoticeParseError, match="未找到任何编号的问题") as caught:
        parse_notice(MISREAD)
    roles = {line: role for line, role, _ in caught.value.line_roles}
    assert len(roles) == 15
    assert roles[2] == "title" and roles[15] == "signature" and roles[13] == "contacts"


def test_roles_given_in_the_preview_rebuild_the_structure() -> None:
    given = {1: "dropped", 5: "category", 6: "finding", 7: "finding", 9: "category", 10: "finding"}
    notice = parse_notice(MISREAD, roles=given)
    assert [(c.number, c.title) for c in notice.categories] == [(1, "党建工作"), (2, "业务工作")]
    shape = [(f.number, f.label, f.title, [m.text for m in f.measures]) for f in notice.findings]
    assert shape == [
        (1, "1", "学习制度执行不严格", ["修订学习制度，每月集中学习一次。"]),
        # line 8 was read as narrative text; made a finding, line 7 takes it as its measure
        (2, "2", "台账不全", ["补齐2023年以来的会议台账。"]),
        (3, "3", "审批时限过长", ["压缩审批时限至5个工作日。"]),
    ]
    assert notice.title == "云川市某某局关于巡察整改情况的公示"
    assert notice.preamble.startswith("根据市委统一部署")
    assert "云川在线" not in _serialised(notice)
    assert notice.dropped == [(1, "云川在线 新闻中心推荐阅读")]
    roles = _own_roles(notice)
    assert roles[8] == "measure"  # carried by line 7
    assert roles[4] == "narrative" and roles[11] == "plan"
    assert [s.kind for s in notice.sections] == ["findings", "plan"]
    assert notice.signed_by == "云川市某某局"
    assert notice.warnings == []


def test_a_finding_taken_out_takes_its_measure_lines_along() -> None:
    text = _text(FIXTURES / "a-fullwidth-crlf.txt")
    notice = parse_notice(text)
    assert len(notice.findings) == 3
    # Line 25 "3．关于“执法办案…”的问题。" and the lines under it become the category's text.
    roles = _own_roles(notice)
    assert roles[25] == "finding" and roles[26] == roles[27] == roles[28] == "measure"
    fixed = parse_notice(text, roles={25: "narrative"})
    assert len(fixed.findings) == 2
    assert [_own_roles(fixed)[n] for n in (26, 27, 28)] == ["narrative"] * 3
    findings_section = fixed.sections[1]
    assert findings_section.kind == "findings"
    assert findings_section.subsections[0].title == "关于“执法办案监督制约不到位”的问题"
    assert "（1）修订《行政处罚案件审核办法》" in findings_section.subsections[0].body
    assert [w.detail for w in fixed.warnings] == ["类别“关于落实全面从严治党责任方面”下没有问题"]


def test_a_title_given_replaces_the_derived_one() -> None:
    text = _text(FIXTURES / "b-compact-straight-quotes.txt")
    assert parse_notice(text).title.endswith("巡察集中整改进展情况的通报")  # derived
    lines = text.splitlines()
    lines.insert(0, "南海区教育局巡察整改情况")
    notice = parse_notice("\n".join(lines))
    assert notice.title == "南海区教育局巡察整改情况"  # its own title line, now found
    fixed = parse_notice("\n".join(lines), roles={1: "preamble"})
    assert fixed.preamble.startswith("南海区教育局巡察整改情况\n")


def test_a_dropped_line_after_the_date_can_be_kept_as_contacts() -> None:
    text = "\n".join([*_text(SEED_NOTICE).splitlines()[:-1], "附件：整改台账.xlsx"])
    notice = parse_notice(text)
    assert [w.detail for w in notice.warnings] == ["落款日期之后的内容已忽略：附件：整改台账.xlsx"]
    line = len(text.splitlines())
    fixed = parse_notice(text, roles={line: "dropped"})
    assert fixed.warnings == []  # the editor decided: no warning left
    kept = parse_notice(text, roles={line: "contacts"})
    assert kept.closing.endswith("附件：整改台账.xlsx")


def test_unknown_role_is_refused_naming_its_line() -> None:
    with pytest.raises(NoticeParseError, match="第3行：未知的行角色“heading”"):
        parse_notice(_text(SEED_NOTICE), roles={3: "heading"})


def test_roles_for_blank_or_missing_lines_are_ignored() -> None:
    text = _text(FIXTURES / "c-district-footer.txt")
    assert parse_notice(text, roles={999: "finding"}) == parse_notice(text)


def test_a_measure_line_given_where_no_finding_is_open_names_its_line() -> None:
    with pytest.raises(NoticeParseError, match="第2行无法归入任何部分") as caught:
        parse_notice(_text(SEED_NOTICE), roles={2: "measure"})
    assert caught.value.line_roles[1].role == "measure"


# --------------------------------------------------------------------------- revisions


def test_corrections_carry_over_to_a_later_revision() -> None:
    given = {1: "dropped", 5: "category", 6: "finding", 7: "finding", 9: "category", 10: "finding"}
    revised = (
        MISREAD.replace("2.台账不全", "2.会议台账不全")
        .replace("一、存在问题及整改情况", "（此件于3月5日修订）\n一、存在问题及整改情况")
        .replace("3.审批时限过长。压缩审批时限至5个工作日。", "3.窗口排队时间长。增设两个窗口。")
    )
    moved = carry_over(MISREAD, given, revised)
    # Everything below the inserted line moved down one; line 7, reworded in place, kept its
    # role; line 10, rewritten beyond recognition, lost it and is guessed again.
    assert moved == {1: "dropped", 6: "category", 7: "finding", 8: "finding", 10: "category"}
    notice = parse_notice(revised, roles=moved | {11: "finding"})
    assert [f.title for f in notice.findings] == [
        "学习制度执行不严格",
        "会议台账不全",
        "窗口排队时间长",
    ]


def test_carry_over_of_an_unchanged_text_keeps_every_role() -> None:
    text = _text(SEED_NOTICE)
    roles = _own_roles(parse_notice(text))
    assert carry_over(text, roles, text.replace("\n", "\r\n")) == roles


# --------------------------------------------------------------------------- robustness


@given(changes=st.dictionaries(st.integers(1, 45), st.sampled_from(ROLES), min_size=1, max_size=12))
@settings(max_examples=80, deadline=None)
def test_any_roles_give_a_notice_or_an_error_naming_a_line(changes: dict[int, str]) -> None:
    text = _text(SEED_NOTICE)
    try:
        notice = parse_notice(text, roles=changes)
    except NoticeParseError as exc:
        assert exc.line >= 1 and exc.message.startswith(f"第{exc.line}行")
        return
    roles = _own_roles(notice)
    for line, role in changes.items():
        if line in roles:
            assert roles[line] == role
    assert dataclasses.asdict(notice)  # serialisable all the way down
