"""Near-duplicate detection and mass-comment campaigns."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.triage.duplicates import (
    NEAR_DUPLICATE,
    compare,
    find_near_duplicates,
    find_similar,
    markers_in,
    matter_of,
    normalise,
    similarity,
)

TEMPLATE = (
    "我是{place}的居民{name}，强烈要求检察院依法查处{place}化工厂偷排污水问题，"
    "河道发黑发臭已经三年，群众多次反映无人处理，请尽快开展公益诉讼，还我们一条清水河。"
)
PEOPLE = [("东城街道", "张三"), ("南城街道", "李四"), ("万江街道", "王五"), ("虎门镇", "赵六")]
UNRELATED = [
    "单位发放购物卡的问题整改了没有？工会经费应当专款专用。",
    "公众号上的文章审核不严，意识形态阵地管理要加强。",
    "提拔干部的程序不透明，希望公开选拔任用的过程。",
]


def test_normalise_ignores_width_case_punctuation_and_spaces() -> None:
    assert normalise("ＡＢ，c d！") == "abcd"
    assert normalise("检察院 依法，查处。") == "检察院依法查处"


def test_a_template_with_a_different_name_and_place_is_a_near_duplicate() -> None:
    a = TEMPLATE.format(place="东城街道", name="张三")
    b = TEMPLATE.format(place="南城街道", name="李四")
    assert similarity(a, b) >= NEAR_DUPLICATE
    for other in UNRELATED:
        assert similarity(a, other) < 0.2


def test_short_texts_use_edit_similarity() -> None:
    assert similarity("食堂浪费严重", "食堂浪费很严重") >= NEAR_DUPLICATE
    assert similarity("食堂浪费严重", "公车私用") < NEAR_DUPLICATE


def test_find_similar_ranks_most_similar_first() -> None:
    base = TEMPLATE.format(place="东城街道", name="张三")
    closer = base.replace("三年", "四年")
    farther = TEMPLATE.format(place="南城街道", name="李四")
    found = find_similar(base, [("far", farther), ("x", UNRELATED[0]), ("close", closer)])
    assert [s.key for s in found] == ["close", "far"]


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert 0.0 <= similarity(a, b) <= 1.0
    assert abs(similarity(a, b) - similarity(b, a)) < 1e-9


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(categories=("Lo", "Nd", "Ll")), min_size=1, max_size=200))
def test_a_text_is_its_own_near_duplicate(text: str) -> None:
    assert similarity(text, text) == 1.0
    assert similarity(text, " " + text + "。") == 1.0


def test_find_near_duplicates_looks_at_the_same_notice(app: Flask, notice: Any) -> None:
    from portal.intake.models import Submission
    from portal.intake.service import Incoming, record_submission

    codes = []
    for place, name in PEOPLE[:3]:
        receipt = record_submission(
            Incoming(channel="email", body=TEMPLATE.format(place=place, name=name), notice=notice)
        )
        codes.append(receipt.code)
    other = record_submission(Incoming(channel="email", body=UNRELATED[0] * 2, notice=notice))
    no_notice = record_submission(
        Incoming(channel="email", body=TEMPLATE.format(place="虎门镇", name="赵六"), notice=None)
    )
    first = db.session.scalar(db.select(Submission).where(Submission.code == codes[0]))
    found = {s.key: s for s in find_near_duplicates(first)}
    assert set(found) == set(codes[1:])
    assert all(s.copy for s in found.values())
    assert other.code not in found and no_notice.code not in found


# --- the same matter in other words (issue 15) ---------------------------------------------------

PAIRS = Path(__file__).parent / "data" / "similar_pairs.jsonl"
CAR_AT_RESTAURANT = "XX路口的公车天天停在饭店门口"
REWORDED = "看到单位的车周末停在酒楼外面，XX路口那家"


def _pairs(split: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["split"] == split]


def _similar(a: str, b: str, minutes: float = 5) -> bool:
    score, _copy = compare(matter_of(a), matter_of(b), timedelta(minutes=minutes))
    return score >= NEAR_DUPLICATE


def test_a_rewording_of_the_same_matter_is_similar_and_says_why() -> None:
    assert similarity(CAR_AT_RESTAURANT, REWORDED) < 0.2  # not a copy
    (found,) = find_similar(CAR_AT_RESTAURANT, [("B", REWORDED)])
    assert not found.copy
    assert "公务用车" in found.shared and "xx路" in found.shared


def test_the_same_finding_about_another_place_or_body_is_another_matter() -> None:
    assert not _similar("东城路的公车停在饭店门口好几个钟", "西湖路的公车停在酒楼外面吃饭")
    assert not _similar("税务所的人态度很差，办事踢皮球", "社保局窗口的工作人员态度很差")
    assert not _similar("长安镇派出所的辅警收钱", "虎门镇派出所的辅警收钱")  # short, near-identical
    assert not _similar(CAR_AT_RESTAURANT, "XX路口的路灯坏了很久没人修")  # same place, other matter


def test_a_rewording_weeks_later_is_not_paired_but_a_copy_is() -> None:
    six_weeks = 6 * 7 * 24 * 60
    assert _similar(CAR_AT_RESTAURANT, REWORDED, minutes=60)
    assert not _similar(CAR_AT_RESTAURANT, REWORDED, minutes=six_weeks)
    assert _similar(CAR_AT_RESTAURANT, CAR_AT_RESTAURANT + "。", minutes=six_weeks)


@pytest.mark.parametrize(("split", "precision", "recall"), [("dev", 0.9, 0.8), ("test", 0.9, 0.7)])
def test_labelled_pairs(split: str, precision: float, recall: float) -> None:
    """The held-out split ("test") was never tuned on. Copy similarity alone (the old panel)
    finds a fifth of the similar pairs: recall 0.24 dev, 0.17 test."""
    pairs = _pairs(split)
    assert len(pairs) >= 40 and sum(p["kind"].startswith("same_finding") for p in pairs) >= 10
    said = [(_similar(p["a"], p["b"], p["minutes_apart"]), p["similar"]) for p in pairs]
    tp = sum(s and t for s, t in said)
    assert tp / max(1, sum(s for s, _ in said)) >= precision
    assert tp / sum(t for _, t in said) >= recall


cjk_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
        st.sampled_from("路街村局所科小区号室0123456789粤sABC，。 "),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(cjk_text, cjk_text, st.integers(min_value=-100_000, max_value=100_000))
def test_comparing_any_two_texts_is_symmetric_and_bounded(a: str, b: str, minutes: int) -> None:
    one = compare(matter_of(a), matter_of(b), timedelta(minutes=minutes))
    other = compare(matter_of(b), matter_of(a), timedelta(minutes=-minutes))
    assert 0.0 <= one[0] <= 1.0
    assert abs(one[0] - other[0]) < 1e-9
    assert markers_in(a) == markers_in(a)


def test_markers_name_places_bodies_plates_and_figures_but_not_years() -> None:
    found = markers_in("2024年我住在人民路，规划科的粤s12345停在302室楼下，去酒楼吃饭")
    assert {"地:人民路", "单位:规划科", "号:粤s12345", "数:302", "物:餐馆"} <= found
    assert not any("2024" in m for m in found)
    # Punctuation ends a name: 送红包，村干部 names no village called 红包村.
    assert not any("红包" in m for m in markers_in("办低保要送红包，村干部明码标价"))
