"""Near-duplicate detection and mass-comment campaigns."""

from __future__ import annotations

from typing import Any

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.triage.duplicates import (
    NEAR_DUPLICATE,
    find_near_duplicates,
    find_similar,
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
    assert [key for key, _ in found] == ["close", "far"]


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
    found = dict(find_near_duplicates(first))
    assert set(found) == set(codes[1:])
    assert other.code not in found and no_notice.code not in found
