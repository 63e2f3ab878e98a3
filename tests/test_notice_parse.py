"""portal.notices.parse: the seed notice, other offices' styles, bad input, and round trips.

Every expected value below was written by hand from the notice text, never copied from the
parser's output.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.notices.parse import (
    FOOTER_PATTERNS,
    Contacts,
    NoticeParseError,
    ParsedNotice,
    parse_notice,
)

SEED_NOTICE = (
    Path(__file__).resolve().parents[1].parent
    / "shared/notices/dongguan-procuratorate-2024-02-02.txt"
)
FIXTURES = Path(__file__).resolve().parent / "data/notices"


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _serialised(notice: ParsedNotice) -> str:
    payload = dataclasses.asdict(notice) | {"findings": notice.findings}
    return json.dumps(payload, ensure_ascii=False, default=str)


def _shape(notice: ParsedNotice) -> list[tuple]:
    """Categories, findings, measures and statuses without source line numbers."""
    return [
        (
            category.number,
            category.title,
            [
                (
                    finding.number,
                    finding.title,
                    finding.status,
                    [(m.number, m.text) for m in finding.measures],
                )
                for finding in category.findings
            ],
        )
        for category in notice.categories
    ]


# --------------------------------------------------------------------------- the seed


@pytest.fixture(scope="module")
def seed() -> ParsedNotice:
    return parse_notice(_read(SEED_NOTICE))


def test_seed_has_five_categories_and_nineteen_findings_in_order(seed: ParsedNotice) -> None:
    assert [c.number for c in seed.categories] == [1, 2, 3, 4, 5]
    assert seed.categories[0].title == "关于充分发挥党组领导作用,贯彻落实上级重大决策部署方面"
    assert seed.categories[4].title == "关于抓实巡视、审计反馈问题长效常治方面"
    assert [len(c.findings) for c in seed.categories] == [5, 5, 4, 3, 2]
    assert [f.number for f in seed.findings] == list(range(1, 20))
    assert seed.warnings == []


def test_seed_finding_titles_keep_inner_quotes(seed: ParsedNotice) -> None:
    titles = {f.number: f.title for f in seed.findings}
    assert titles[1] == "落实上级重大决策部署不到位"
    assert titles[10] == "推动‘数字检察’工作力度不够、成效不明显"
    assert titles[18] == "干部轮岗交流执行不到位问题整改不实"
    assert titles[19] == "党务工作不规范问题整改不到位"


def test_seed_measure_counts_match_the_text(seed: ParsedNotice) -> None:
    # Counted by hand: 一是/二是/… per finding; no marker means one whole-text measure.
    expected = {1: 2, 2: 3, 3: 2, 4: 1, 5: 2, 6: 3, 7: 3, 8: 1, 9: 3, 10: 3,
                11: 4, 12: 4, 13: 3, 14: 4, 15: 3, 16: 2, 17: 3, 18: 1, 19: 1}  # fmt: skip
    assert {f.number: len(f.measures) for f in seed.findings} == expected
    for finding in seed.findings:
        assert [m.number for m in finding.measures] == list(range(1, len(finding.measures) + 1))
        assert finding.status is None


def test_seed_measure_texts_are_the_published_wording(seed: ParsedNotice) -> None:
    by_number = {f.number: f for f in seed.findings}
    assert by_number[3].measures[0].text == (
        "严格执行“三重一大”决策制度。制定市检察院“三重一大”事项决策实施细则，"
        "确保“三重一大”决策各项制度落实到位。"
    ).replace("，", ",")
    assert by_number[11].measures[1].text == "及时调整党风廉政建设领导小组成员。"
    assert by_number[18].measures[0].text == (
        "修订市检察院检察人员交流轮岗工作实施细则,动态掌握干部的交流情况,确保有序开展交流轮岗工作。"
    )
    assert by_number[4].measures[0].text.startswith("认真履行市检察院党组对意识形态工作")
    assert by_number[4].measures[0].text.endswith("推动意识形态工作与检察业务工作深度融合。")
    assert by_number[1].line == 8
    assert by_number[19].line == 30


def test_seed_sections_plan_and_preamble(seed: ParsedNotice) -> None:
    assert [s.number for s in seed.sections] == [1, 2, 3]
    narrative = seed.sections[0]
    assert narrative.title == "以政治建设为统领,把巡察整改作为重大政治任务抓紧抓实"
    assert [s.title for s in narrative.subsections] == [
        "统一思想认识,切实增强巡察整改的政治自觉、思想自觉和行动自觉",
        "加强组织领导,坚持边巡边改、立行立改",
        "强化督促检查,确保巡察整改成效",
    ]
    assert narrative.subsections[0].body.startswith("深入学习贯彻习近平总书记")
    assert seed.sections[2].title == "下一步工作计划"
    assert [p.number for p in seed.plan] == [1, 2, 3, 4]
    assert seed.plan[3].title == "持续加强廉政建设,纵深推进全面从严管党治检"
    assert seed.preamble.startswith("根据市委统一部署")
    assert seed.title == "中共东莞市人民检察院党组关于市委第三巡察组巡察集中整改进展情况的通报"


def test_seed_contacts_signature_and_date(seed: ParsedNotice) -> None:
    assert seed.contacts == Contacts(
        phone="0769-22366196",
        email="DGjczgb@163.com",
        address="东莞市东城西路185号(巡察整改办收)",
        postcode="523000",
    )
    assert seed.signed_by == "中共东莞市人民检察院党组"
    assert seed.signed_on == datetime.date(2024, 2, 2)
    assert seed.closing.startswith("欢迎广大干部群众对巡察整改落实情况进行监督。")


def test_seed_website_footer_never_reaches_any_field(seed: ParsedNotice) -> None:
    everything = _serialised(seed)
    for leaked in ("版权所有", "ICP", "网站地图", "鸿福路", "523888", "纪律检查委员会"):
        assert leaked not in everything


@given(
    crlf=st.booleans(),
    bom=st.booleans(),
    indent=st.sampled_from(["", "\u3000\u3000", "  ", "\t"]),
    trailing=st.sampled_from(["", " ", "\u3000"]),
)
@settings(max_examples=30, deadline=None)
def test_seed_layout_noise_changes_nothing(
    crlf: bool, bom: bool, indent: str, trailing: str
) -> None:
    lines = _read(SEED_NOTICE).split("\n")
    text = ("\r\n" if crlf else "\n").join(indent + line + trailing for line in lines)
    noisy = parse_notice(("\ufeff" if bom else "") + text)
    clean = parse_notice(_read(SEED_NOTICE))
    assert noisy == clean


# --------------------------------------------------------------------------- other offices


def test_fullwidth_crlf_notice_with_status_markers() -> None:
    raw = (FIXTURES / "a-fullwidth-crlf.txt").read_bytes()
    assert b"\r\n" in raw  # the fixture is meant to carry Windows line endings
    notice = parse_notice(raw.decode("utf-8"))
    assert notice.title == "中共龙川县市场监督管理局党组关于县委第二巡察组巡察整改进展情况的通报"
    assert _shape(notice) == [
        (1, "关于贯彻落实党的路线方针政策和党中央决策部署方面", [
            (1, "食品安全监管‘最后一公里’打通不够", "已完成整改", [
                (1, "制定《乡镇食品安全监管网格化工作方案》，划定网格126个"),
                (2, "开展校园周边食品安全专项检查4次，查处案件7宗"),
                (3, "建立月度通报制度。"),
            ]),
            (2, "特种设备安全隐患排查不彻底", "基本完成", [
                (1, "对全县电梯开展全覆盖排查，整改隐患31处"),
                (2, "建立特种设备隐患台账，实行销号管理。"),
            ]),
        ]),
        (2, "关于落实全面从严治党责任方面", [
            (3, "执法办案监督制约不到位", "持续推进", [
                (1, "修订《行政处罚案件审核办法》"),
                (2, "每季度开展案卷评查，评查案卷58宗。"),
            ]),
        ]),
    ]  # fmt: skip
    assert [f.line for f in notice.findings] == [13, 20, 25]
    assert notice.contacts == Contacts(
        "0762-6882315", "lcscjgj@126.com", "龙川县老隆镇东风路18号县市场监督管理局办公室", "517300"
    )
    # Contacts are normalised, the published closing paragraph is not.
    assert "０７６２－６８８２３１５" in notice.closing
    assert notice.signed_by == "中共龙川县市场监督管理局党组"
    assert notice.signed_on == datetime.date(2024, 1, 15)
    assert [(p.number, p.title) for p in notice.plan] == [
        (1, "持续巩固整改成果"),
        (2, "建立长效机制"),
    ]
    assert (
        notice.sections[0].body
        == "局党组把巡察整改作为重大政治任务，成立整改工作领导小组，由党组书记任组长。"
    )
    assert notice.warnings == []


def test_compact_notice_with_straight_quotes_and_measures_one_per_line() -> None:
    notice = parse_notice(_read(FIXTURES / "b-compact-straight-quotes.txt"))
    # No title line: one is derived from the signature and the inspection group.
    assert (
        notice.title == "中共佛山市南海区教育局委员会关于区委第一巡察组巡察集中整改进展情况的通报"
    )
    assert _shape(notice) == [
        (1, "关于党建工作方面", [
            (1, "基层党组织'三会一课'制度落实不严格", "已完成", [
                (1, '制定党支部工作清单，明确"三会一课"时间表'),
                (2, "开展党支部书记专题培训2期"),
                (3, "将制度落实情况纳入年度考核。"),
            ]),
            (2, "党员发展程序不规范", "整改中", [
                (1, "对近三年发展党员档案逐一核查"),
                (2, "补齐缺失材料12份。"),
            ]),
        ]),
        (2, "关于选人用人方面", [
            (3, "干部档案管理不规范", "长期坚持", [
                (1, "对干部人事档案开展专项审核，完成审核186卷，补充材料43份。"),
            ]),
        ]),
    ]  # fmt: skip
    assert notice.contacts == Contacts(
        "0757-86281234", "nhjyj_xczg@163.com", "佛山市南海区桂城街道南海大道北12号", "528200"
    )
    assert notice.signed_by == "中共佛山市南海区教育局委员会"
    assert notice.signed_on == datetime.date(2024, 3, 8)
    assert [p.title for p in notice.plan] == [
        "坚持问题导向，巩固整改成果",
        "完善制度机制，推动长效常治",
    ]
    assert notice.warnings == []


def test_district_notice_with_website_footer_and_chinese_date() -> None:
    notice = parse_notice(_read(FIXTURES / "c-district-footer.txt"))
    assert notice.title == "中共广州市越秀区卫生健康局党组关于巡察整改进展情况的公示"
    assert _shape(notice) == [
        (1, "关于落实党中央决策部署方面", [
            (1, "基层医疗卫生服务能力提升不够", "持续推进", [
                (1, "推进社区卫生服务中心标准化建设，完成改造5个。"),
                (2, "组织专家下沉社区坐诊，全年累计坐诊1200人次。"),
            ]),
            (2, "重大传染病防控“最后一公里”工作存在短板", "已完成整改", [
                (1, "完善联防联控机制"),
                (2, "开展应急演练3次。"),
            ]),
        ]),
        (2, "关于巡视巡察整改方面", [
            (3, "上轮巡察反馈问题整改不彻底", "已完成整改", [
                (1, "对上轮巡察反馈的12个问题逐一复核，已全部完成整改销号。"),
            ]),
        ]),
    ]  # fmt: skip
    assert notice.contacts == Contacts(
        "020-83001234",
        "yxwjjxc@gz.gov.cn",
        "广州市越秀区仓边路88号(区卫生健康局办公室收)",
        "510030",
    )
    assert notice.signed_on == datetime.date(2024, 3, 18)
    assert notice.signed_by == "中共广州市越秀区卫生健康局党组"
    everything = _serialised(notice)
    for leaked in ("府前路", "510031", "ICP", "版权所有", "网站标识码", "公网安备", "纪委监委网站"):
        assert leaked not in everything
    assert notice.warnings == []


def test_sections_as_categories_and_numbering_restarting_per_category() -> None:
    text = (
        "\ufeff根据市委统一部署，市委第五巡察组对某局党组进行了巡察。\r"
        "一、关于党的领导方面的问题\r"
        "1．关于“学习贯彻不深入”问题：一是建立学习制度。二是开展专题研讨。\r"
        "2．关于“统筹不够”问题：统一是非标准，明确责任分工。\r"
        "二、关于队伍建设方面的问题\r"
        "1．关于“培训不足”问题：①开展培训；②建立台账。\r"
        "联系电话：13912345678。\r"
        "中共某局党组\r"
        "2024-02-02\r"
    )
    notice = parse_notice(text)
    assert _shape(notice) == [
        (1, "关于党的领导方面的问题", [
            (1, "学习贯彻不深入", None, [(1, "建立学习制度。"), (2, "开展专题研讨。")]),
            # "统一是非" holds 一是 inside a word: it is not a measure marker.
            (2, "统筹不够", None, [(1, "统一是非标准，明确责任分工。")]),
        ]),
        (2, "关于队伍建设方面的问题", [
            (1, "培训不足", None, [(1, "开展培训"), (2, "建立台账。")]),
        ]),
    ]  # fmt: skip
    assert notice.contacts.phone == "13912345678"
    assert notice.signed_on == datetime.date(2024, 2, 2)
    assert notice.title == "中共某局党组关于市委第五巡察组巡察集中整改进展情况的通报"
    # Numbers identify findings across the notice, so a restart needs an editor's look.
    assert [w.message for w in notice.warnings] == ["第6行：问题编号1重复"]


def test_two_line_title_numbered_measure_lines_and_a_dated_body_line() -> None:
    text = "\n".join(
        [
            "中共某某区审计局党组",
            "关于区委第二巡察组巡察整改进展情况的通报",
            "根据区委统一部署，区委第二巡察组对区审计局党组开展了巡察。",
            "一、整改落实情况",
            "（一）关于党的建设方面",
            "1．关于“学习制度执行不严”的问题。",
            "整改情况：",
            "1.修订学习制度；",
            "2.每月开展集中学习。",
            "（已完成整改）",
            "2．关于“台账不全”的问题。整改情况：1、补齐台账；",
            "2、建立月度核对机制。",
            "二、下一步工作计划",
            "（一）巩固成果。召开总结会议 2024年1月3日",
            "联系电话：12388。",
            "中共某某区审计局党组",
            "2024年2月2日",
        ]
    )
    notice = parse_notice(text)
    assert notice.title == "中共某某区审计局党组关于区委第二巡察组巡察整改进展情况的通报"
    assert _shape(notice) == [
        (1, "关于党的建设方面", [
            (1, "学习制度执行不严", "已完成整改", [(1, "修订学习制度"), (2, "每月开展集中学习。")]),
            (2, "台账不全", None, [(1, "补齐台账"), (2, "建立月度核对机制。")]),
        ]),
    ]  # fmt: skip
    assert notice.plan[0].body == "召开总结会议 2024年1月3日"
    assert notice.signed_on == datetime.date(2024, 2, 2)
    assert notice.warnings == []


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024年2月2日", datetime.date(2024, 2, 2)),
        ("２０２４年１２月３１日", datetime.date(2024, 12, 31)),
        ("二〇二四年二月二日", datetime.date(2024, 2, 2)),
        ("二〇二三年十二月二十一日", datetime.date(2023, 12, 21)),
        ("2024-02-02", datetime.date(2024, 2, 2)),
    ],
)
def test_signature_date_formats(written: str, expected: datetime.date) -> None:
    notice = parse_notice(_minimal(date_line=written))
    assert notice.signed_on == expected
    assert notice.signed_by == "中共某局党组"


def _minimal(*findings: str, date_line: str = "2024年2月2日", closing: str | None = None) -> str:
    body = list(findings) or ["1.针对“问题甲”问题。一是整改甲。"]
    closing = "欢迎监督。联系电话：12388。" if closing is None else closing
    return "\n".join(
        ["根据统一部署，现将整改进展情况公布。", "一、整改情况", "(一)关于某某方面", *body,
         closing, "中共某局党组", date_line]
    )  # fmt: skip


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("text", ["", "\ufeff", " \r\n\u3000\n\n"])
def test_empty_text_is_an_error_on_line_one(text: str) -> None:
    with pytest.raises(NoticeParseError) as caught:
        parse_notice(text)
    assert caught.value.line == 1


def test_notice_without_any_finding_is_an_error() -> None:
    text = "根据统一部署。\n一、总体情况\n(一)加强领导。成立领导小组。\n中共某局党组\n2024年2月2日"
    with pytest.raises(NoticeParseError, match="未找到任何编号的问题"):
        parse_notice(text)


def test_finding_before_any_category_names_its_line() -> None:
    text = "根据统一部署。\n\n1.针对“问题甲”问题。一是整改甲。\n一、整改情况\n(一)关于某某方面"
    with pytest.raises(NoticeParseError) as caught:
        parse_notice(text)
    assert caught.value.line == 3
    assert "1.针对“问题甲”问题" in caught.value.text


def test_measure_line_under_a_category_without_finding_cannot_be_placed() -> None:
    text = _minimal(
        "1.针对“问题甲”问题。一是整改甲。",
        "(二)关于另一方面",
        "（1）没有所属问题的措施；",
    )
    with pytest.raises(NoticeParseError) as caught:
        parse_notice(text)
    assert caught.value.line == 6
    assert str(caught.value) == "第6行无法归入任何部分：（1）没有所属问题的措施；"


def test_status_marker_in_the_preamble_cannot_be_placed() -> None:
    text = "根据统一部署。\n（已完成整改）\n" + _minimal()
    with pytest.raises(NoticeParseError) as caught:
        parse_notice(text)
    assert caught.value.line == 2
    assert str(caught.value).startswith("第2行无法归入任何部分")


# --------------------------------------------------------------------------- warnings


def test_skipped_and_repeated_finding_numbers_warn_with_their_lines() -> None:
    notice = parse_notice(
        _minimal(
            "1.针对“甲”问题。一是整改甲。",
            "2.针对“乙”问题。一是整改乙。",
            "4.针对“丁”问题。一是整改丁。",
            "4.针对“丁二”问题。一是整改丁二。",
        )
    )
    assert [f.number for f in notice.findings] == [1, 2, 4, 4]
    messages = [w.message for w in notice.warnings]
    assert messages == ["第6行：问题编号从2跳到4", "第7行：问题编号4重复"]
    assert [w.line for w in notice.warnings] == [6, 7]


def test_finding_without_measures_and_category_without_findings_warn() -> None:
    notice = parse_notice(
        _minimal(
            "1.针对“甲”问题。", "(二)关于空的方面", "(三)关于某方面", "2.针对“乙”问题。整改乙。"
        )
    )
    assert notice.findings[0].measures == []
    assert notice.findings[1].measures[0].text == "整改乙。"
    lines = {w.line: w.message for w in notice.warnings}
    assert "没有整改措施" in lines[4]
    assert "没有问题" in lines[5]


def test_missing_contacts_and_missing_date_warn() -> None:
    text = "\n".join(
        ["根据统一部署。", "一、整改情况", "(一)关于某某方面", "1.针对“甲”问题。一是整改甲。"]
    )
    notice = parse_notice(text)
    assert notice.signed_on is None
    assert notice.contacts == Contacts(None, None, None, None)
    messages = " ".join(w.message for w in notice.warnings)
    assert "未找到落款日期" in messages
    assert "未找到联系方式" in messages


def test_unknown_line_after_the_date_is_dropped_with_a_warning() -> None:
    text = _minimal() + "\n网站地图 | 版权所有\n附件：整改台账.xlsx\n粤ICP备000号"
    notice = parse_notice(text)
    assert [w.message for w in notice.warnings] == [
        "第9行：落款日期之后的内容已忽略：附件：整改台账.xlsx"
    ]
    fields = _serialised(dataclasses.replace(notice, warnings=[]))
    assert "附件" not in fields
    assert "ICP" not in _serialised(notice)


def test_footer_patterns_recognise_footer_lines() -> None:
    for line in (
        "粤ICP备19111585号-1",
        "网站标识码：4419000001",
        "主办：某区纪委监委",
        "技术支持：某公司",
    ):
        assert any(pattern.search(line) for pattern in FOOTER_PATTERNS)
    assert not any(pattern.search("欢迎广大干部群众监督。") for pattern in FOOTER_PATTERNS)


# --------------------------------------------------------------------------- round trips

# Text that cannot form a marker: no Chinese numerals, brackets, quotes or contact words.
_PLAIN = (
    "加强制度建设落实责任推进工作完善机制规范管理检查开展培训组织领导"
    "党风廉政考核队伍业务质量服务保障法治创新改革执行审计财务资产档案宣传学习教育"
)
_STATUSES = ("已完成整改", "基本完成", "持续推进", "长期坚持", "整改中", "已完成")
_CN_UNITS = "一二三四五六七八九"
_FOOTERS = (
    "中共某某区纪律检查委员会 某某区监察委员会 版权所有",
    "联系地址：某某区政府大楼5楼 邮政编码：999999",
    "粤ICP备12345678号-1 网站地图",
    "主办：某某区纪委监委 技术支持：某某信息公司",
    "网站标识码：4401040001 粤公网安备44010402000001号",
)


def _cn(number: int) -> str:
    """Independent of the parser: 1 → 一, 12 → 十二, 20 → 二十."""
    tens, ones = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _CN_UNITS[tens - 1] + "十")
    return head + (_CN_UNITS[ones - 1] if ones else "")


def _cn_year(year: int) -> str:
    return "".join("〇一二三四五六七八九"[int(d)] for d in str(year))


def _fullwidth(text: str) -> str:
    return "".join(
        chr(ord(c) + 0xFEE0) if c.isascii() and (c.isdigit() or c == "-") else c for c in text
    )


@dataclass
class _GenFinding:
    title: str
    measures: list[str]  # expected texts
    status: str | None
    rendered: list[str]  # lines


@st.composite
def _plain(draw: st.DrawFn, min_size: int = 2, max_size: int = 14, digits: bool = True) -> str:
    alphabet = _PLAIN + ("0123456789" if digits else "")
    head = draw(st.text(alphabet=_PLAIN, min_size=1, max_size=1))
    return head + draw(st.text(alphabet=alphabet, min_size=min_size - 1, max_size=max_size - 1))


@st.composite
def _finding(draw: st.DrawFn, number: int, style: str, curly: bool) -> _GenFinding:
    open_q, close_q, inner_open, inner_close = (
        ("“", "”", "‘", "’") if curly else ('"', '"', "'", "'")
    )
    title = draw(_plain(digits=False))
    if draw(st.booleans()):
        title = (
            title
            + inner_open
            + draw(_plain(max_size=5, digits=False))
            + inner_close
            + draw(_plain(min_size=1, max_size=5, digits=False))
        )
    cores = draw(
        st.lists(st.lists(_plain(), min_size=1, max_size=3).map("，".join), min_size=1, max_size=6)
    )
    status = draw(st.one_of(st.none(), st.sampled_from(_STATUSES)))
    mark = draw(st.sampled_from([".", "．", "、"]))
    digits = str(number) if draw(st.integers(0, 4)) else _fullwidth(str(number))

    if style == "yishi":  # 针对“X”问题。一是…。二是…。
        head = f"{digits}{mark}针对{open_q}{title}{close_q}问题。"
        plain_single = len(cores) == 1 and draw(st.booleans())
        ends = [draw(st.sampled_from(["。", "；"])) for _ in cores[:-1]] + [
            draw(st.sampled_from(["。", ""]))
        ]
        if plain_single:
            pieces = [cores[0] + ends[0]]
        else:
            pieces = [
                f"{_cn(i)}是{core}{end}"
                for i, (core, end) in enumerate(zip(cores, ends, strict=True), 1)
            ]
        expected = [
            core + (end if end == "。" else "") for core, end in zip(cores, ends, strict=True)
        ]
        one_line = draw(st.booleans())
        lines = [head + "".join(pieces)] if one_line else [head, *pieces]
    else:  # 关于“X”的问题。整改情况：（1）…；（2）…。
        head = f"{digits}{mark}关于{open_q}{title}{close_q}" + draw(
            st.sampled_from(["的问题。", "问题：", "问题", "的问题"])
        )
        intro = draw(st.sampled_from(["整改情况：", "整改措施：", "整改进展：", ""]))
        ends = [draw(st.sampled_from(["；", ";", "。"])) for _ in cores[:-1]] + [
            draw(st.sampled_from(["。", "；", ""]))
        ]
        expected = [
            core + (end if end == "。" else "") for core, end in zip(cores, ends, strict=True)
        ]
        plain_single = len(cores) == 1 and draw(st.booleans())
        if plain_single:
            pieces = [cores[0] + ends[0]]
        else:
            kinds = [("（", "）"), ("(", ")")]
            if intro:  # "1." measure lines only read as measures below 整改情况：
                kinds += [("", "."), ("", "、"), ("", "．")]
            brackets = draw(st.sampled_from(kinds))
            pieces = [
                f"{brackets[0]}{i}{brackets[1]}{core}{end}"
                for i, (core, end) in enumerate(zip(cores, ends, strict=True), 1)
            ]
        layout = draw(st.sampled_from(["one_line", "per_line", "intro_inline"]))
        if layout == "one_line":
            lines = [head, intro + "".join(pieces)]
        elif layout == "per_line":
            lines = [head, *([intro] if intro else []), *pieces]
        else:
            lines = [head, intro + pieces[0], *pieces[1:]]
        if head.endswith(("。", "：")) and draw(st.booleans()):
            lines = [lines[0] + lines[1], *lines[2:]]  # measures on the finding line itself

    lines = [line for line in lines if line]
    if status is not None:
        marker = draw(st.sampled_from([f"（{status}）", f"({status})"]))
        if draw(st.booleans()):
            lines.append(marker)
        else:
            lines[-1] += marker
    return _GenFinding(title, expected, status, lines)


@dataclass
class _GenNotice:
    text: str
    categories: list[tuple[int, str, list[_GenFinding]]]
    contacts: Contacts
    signed_by: str
    signed_on: datetime.date
    title: str


@st.composite
def _notices(draw: st.DrawFn) -> _GenNotice:
    style = draw(st.sampled_from(["yishi", "numbered", "mixed"]))
    curly = draw(st.booleans())
    signer = "中共" + draw(_plain(max_size=8, digits=False)) + "党组"
    group = "市委第" + _cn(draw(st.integers(1, 12))) + "巡察组"
    lines = [f"根据市委统一部署，{group}对{signer}进行了巡察。现将整改进展情况予以公布。"]
    has_title = draw(st.booleans())
    title = f"{signer}关于{group}巡察集中整改进展情况的通报"
    if has_title:
        title = f"{signer}关于巡察整改进展情况的通报"
        lines.insert(0, title)

    section = 1
    if draw(st.booleans()):  # a narrative section before the findings
        lines.append(f"{_cn(section)}、" + draw(_plain(digits=False)))
        for sub in range(1, draw(st.integers(0, 3)) + 1):
            lines.append(f"（{_cn(sub)}）{draw(_plain(digits=False))}。{draw(_plain())}。")
        section += 1
    lines.append(f"{_cn(section)}、巡察反馈问题整改落实情况")
    section += 1

    categories = []
    number = 0
    for cat in range(1, draw(st.integers(1, 6)) + 1):
        cat_title = "关于" + draw(_plain(digits=False)) + "方面"
        brackets = draw(st.sampled_from([("（", "）"), ("(", ")")]))
        lines.append(f"{brackets[0]}{_cn(cat)}{brackets[1]}{cat_title}")
        findings = []
        for _ in range(draw(st.integers(1, 8))):
            number += 1
            finding_style = (
                style if style != "mixed" else draw(st.sampled_from(["yishi", "numbered"]))
            )
            finding = draw(_finding(number, finding_style, curly))
            findings.append(finding)
            lines.extend(finding.rendered)
        categories.append((cat, cat_title, findings))

    if draw(st.booleans()):
        lines.append(f"{_cn(section)}、下一步工作计划")
        for sub in range(1, draw(st.integers(1, 3)) + 1):
            lines.append(f"（{_cn(sub)}）{draw(_plain(digits=False))}。{draw(_plain())}。")

    contacts, closing = draw(_closing())
    lines.extend(closing)
    lines.append(signer)
    signed_on = draw(st.dates(datetime.date(2000, 1, 1), datetime.date(2030, 12, 31)))
    lines.append(
        draw(
            st.sampled_from(
                [
                    f"{signed_on.year}年{signed_on.month}月{signed_on.day}日",
                    f"{_cn_year(signed_on.year)}年{_cn(signed_on.month)}月{_cn(signed_on.day)}日",
                    signed_on.isoformat(),
                ]
            )
        )
    )
    if draw(st.booleans()):
        lines.extend(draw(st.lists(st.sampled_from(_FOOTERS), min_size=1, max_size=4)))

    text = _layout(draw, lines)
    return _GenNotice(text, categories, contacts, signer, signed_on, title)


@st.composite
def _closing(draw: st.DrawFn) -> tuple[Contacts, list[str]]:
    phone = draw(
        st.one_of(
            st.none(),
            st.builds(lambda a, b: f"0{a}-{b}", st.from_regex(r"[1-9][0-9]{1,2}", fullmatch=True),
                      st.from_regex(r"[2-8][0-9]{6,7}", fullmatch=True)),
            st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
            st.just("12388"),
        )
    )  # fmt: skip
    email = draw(
        st.one_of(
            st.none(),
            st.from_regex(r"[a-z][a-z0-9_]{2,9}@[a-z0-9]{2,6}\.(com|cn|gov\.cn)", fullmatch=True),
        )
    )
    address = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda place, no, note: f"某某市{place}路{no}号{note}",
                _plain(max_size=6, digits=False),
                st.integers(1, 999),
                st.sampled_from(["", "（巡察整改办收）", "(巡察整改办收)"]),
            ),
        )
    )
    postcode = draw(st.one_of(st.none(), st.from_regex(r"[1-8][0-9]{5}", fullmatch=True)))
    if (phone, email, address, postcode) == (None, None, None, None):
        phone = "12388"
    sep = draw(st.sampled_from(["；", ";"]))
    parts = []
    if phone is not None:
        written = _fullwidth(phone) if draw(st.booleans()) else phone
        parts.append(draw(st.sampled_from(["联系电话：", "电话", "监督电话:"])) + written)
    if email is not None:
        parts.append("电子邮箱：" + email)
    if address is not None:
        parts.append(draw(st.sampled_from(["邮政信箱：", "通信地址：", "来信地址:"])) + address)
    if postcode is not None:
        parts.append(draw(st.sampled_from(["邮编", "邮编：", "邮政编码："])) + postcode)
    contact_line = sep.join(parts) + "。"
    opening = "欢迎广大干部群众对巡察整改落实情况进行监督。"
    closing = [opening + contact_line] if draw(st.booleans()) else [opening, contact_line]
    expected_address = unicodedata.normalize("NFKC", address) if address else None
    return Contacts(phone, email, expected_address, postcode), closing


def _layout(draw: st.DrawFn, lines: list[str]) -> str:
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out = []
    for line in lines:
        indent = draw(st.sampled_from(["", "", "\u3000\u3000", "  "]))
        out.append(indent + line)
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from(["", "\u3000", " "])))
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + newline.join(out) + newline


@given(generated=_notices())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_notices_round_trip(generated: _GenNotice) -> None:
    notice = parse_notice(generated.text)
    assert [(c.number, c.title) for c in notice.categories] == [
        (number, title) for number, title, _ in generated.categories
    ]
    got = [(f.number, f.title, f.status, [m.text for m in f.measures]) for f in notice.findings]
    want = [
        (number, f.title, f.status, f.measures)
        for number, f in enumerate((f for _, _, fs in generated.categories for f in fs), start=1)
    ]
    assert got == want
    for finding in notice.findings:
        assert [m.number for m in finding.measures] == list(range(1, len(finding.measures) + 1))
    assert notice.contacts == generated.contacts
    assert notice.signed_by == generated.signed_by
    assert notice.signed_on == generated.signed_on
    assert notice.title == generated.title
    assert notice.warnings == []
    everything = _serialised(notice)
    for footer in ("版权所有", "ICP", "网站标识码", "999999", "技术支持"):
        assert footer not in everything
