"""The concept map (portal/triage/data/concepts.toml) and text normalisation, reviewed as data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.triage.concepts import FORM_KINDS, load_concepts, parse_concepts
from portal.triage.normalise import normalise, without_negation

DATA = Path(__file__).resolve().parent / "data"


def test_the_map_loads_with_every_area_the_issue_lists() -> None:
    concepts = load_concepts()
    labels = " ".join(c.label for c in concepts.concepts.values())
    for area in ("八项规定", "公务用车", "办公用房", "公款吃喝", "购物卡", "津补贴", "选人用人",
                 "作风", "形式主义", "三会一课", "党费", "意识形态", "采购", "工程", "国有资产",
                 "执法", "营商环境", "食品安全", "安全生产", "生态环境", "信访", "政务公开",
                 "廉政风险", "教育收费"):  # fmt: skip
        assert area in labels, area
    assert len(concepts.bodies) >= 10


def test_no_form_belongs_to_two_entries() -> None:
    assert load_concepts().duplicates == {}


def test_every_form_fires_its_own_concept() -> None:
    """Reachable: no form is swallowed by a longer form of another concept."""
    concepts = load_concepts()
    for concept in concepts.concepts.values():
        for form in concept.all_forms():
            keys = [hit.key for hit in concepts.hits(form)]
            assert concept.id in keys, (concept.id, form, keys)
    for body in concepts.bodies.values():
        for form in body.forms:
            assert "body:" + body.kind in [h.key for h in concepts.hits(form)], form


def test_every_concept_has_citizens_words_not_only_official_terms() -> None:
    for concept in load_concepts().concepts.values():
        said = [f for kind in FORM_KINDS[1:] for f in concept.forms.get(kind, ())]
        assert said, concept.id


def test_no_form_is_tied_to_one_notice() -> None:
    """Place names, unit names and figures of the notices in tests/data never appear as forms."""
    names = set()
    for path in (DATA / "notices").glob("*.txt"):
        # "云川市人民医院", "临湖县委": the place a notice's office belongs to.
        names |= set(re.findall(r"(\w{2})[市县](?:人民|委|第|交通|自然)", path.read_text("utf-8")))
    names |= {"东莞", "云川", "云溪", "临湖", "检察院"}
    for concept in load_concepts().concepts.values():
        for form in concept.all_forms():
            # Figures belong to one notice; the national 12345 hotline belongs to every one.
            assert form == "12345" or not re.search(r"\d", form), form
            assert not any(name in form for name in names if len(name) >= 2), form


def test_malformed_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="required"):
        parse_concepts('[[concept]]\nid = "x"\nlabel = "X"\n')
    with pytest.raises(ValueError, match="unknown keys"):
        parse_concepts('[[concept]]\nid = "x"\nlabel = "X"\nterms = ["甲乙"]\nslang = ["丙"]\n')
    with pytest.raises(ValueError, match="non-empty strings"):
        parse_concepts('[[concept]]\nid = "x"\nlabel = "X"\nterms = ["甲乙", ""]\n')
    with pytest.raises(ValueError, match="required"):
        parse_concepts('[[body]]\nkind = "x"\nlabel = "X"\n')


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("醫院醫生收紅包", "医院医生收红包"),  # traditional
        ("佢哋揸公車返屋企", "他们开公车返屋企"),  # Cantonese + traditional
        ("啲教輔資料冇人理", "些教辅资料没有人理"),
        ("ＵＳＢ　Ｕ盘", "usb u盘"),  # full-width
        ("係咪真嘅", "是不是真的"),
    ],
)
def test_normalise(typed: str, expected: str) -> None:
    assert normalise(typed) == expected


def test_negation_is_read_through() -> None:
    assert without_negation("政策不落地，材料没有公开") == "政策落地，材料公开"
    hits = {h.key for h in load_concepts().hits(normalise("上面的政策根本不落地"))}
    assert "decisions" in hits


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("gcsy太严重了", "official_car"),  # pinyin initials
        ("領導天天揸公車", "official_car"),
        ("过年发了超市卡", "gifts"),  # 超市卡 is a gift card, not a supermarket
        ("耕第被占", "land"),  # typo
        ("饭堂啲餸好贵", "canteen"),
    ],
)
def test_how_citizens_say_it(text: str, concept: str) -> None:
    assert concept in {h.key for h in load_concepts().hits(normalise(text))}


def test_gift_card_is_not_a_market_complaint() -> None:
    keys = {h.key for h in load_concepts().hits(normalise("单位过节发超市卡"))}
    assert "gifts" in keys and "body:market" not in keys


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_normalises_and_matches_safely(text: str) -> None:
    norm = normalise(text)
    assert normalise(norm) == norm or isinstance(normalise(norm), str)
    for hit in load_concepts().hits(norm):
        assert hit.form in norm or hit.form in without_negation(norm)
