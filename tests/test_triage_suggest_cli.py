"""`flask triage suggest`: the JSON contracts of DESIGN.md, for --notice and for --round."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

KEYS = {"number", "title", "score"}
IN_SCOPE = "单位过节给职工发购物卡，工会经费被挪用了"
OUT_OF_SCOPE = "今天天气很好，我想问一下火车票怎么退"


def _check_array(items: list[dict[str, Any]]) -> None:
    assert all(set(item) == KEYS for item in items)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)


def test_text_argument_prints_one_array_best_first(
    app: Flask, published_notice: str, runner: Any
) -> None:
    result = runner.invoke(args=["triage", "suggest", "--notice", published_notice, IN_SCOPE])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert items, "an in-scope comment gets suggestions"
    _check_array(items)
    assert all(isinstance(i["number"], int) and i["title"] for i in items)


def test_out_of_scope_text_gives_empty_array(
    app: Flask, published_notice: str, runner: Any
) -> None:
    result = runner.invoke(args=["triage", "suggest", "--notice", published_notice, OUT_OF_SCOPE])
    assert json.loads(result.output) == []


def test_stdin_mode_prints_one_array_per_line(
    app: Flask, published_notice: str, runner: Any
) -> None:
    texts = [IN_SCOPE, OUT_OF_SCOPE, "", "扣押的车辆一直不退还"]
    result = runner.invoke(
        args=["triage", "suggest", "--notice", published_notice], input="\n".join(texts) + "\n"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(texts)
    arrays = [json.loads(line) for line in lines]
    for items in arrays:
        _check_array(items)
    assert arrays[0] and arrays[3]
    assert arrays[1] == [] and arrays[2] == []
    single = runner.invoke(args=["triage", "suggest", "--notice", published_notice, IN_SCOPE])
    assert json.loads(single.output) == arrays[0]


def test_unknown_notice_is_an_error(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["triage", "suggest", "--notice", "nope", "文本"])
    assert result.exit_code != 0


# --- --round: every published notice of a round --------------------------------------------------

ROUND_KEYS = {"office", "notice", "number", "title", "score"}
HOUSING = "我们小区物业乱收停车费，公共收益从来不公布"


@pytest.fixture
def round_slug(app: Flask) -> str:
    """Round r1: the seed notice of office a and a housing bureau's notice of office b, both
    published, and a draft of office c that must never be suggested."""
    from portal.extensions import db
    from portal.notices.service import import_notice
    from portal.offices.service import create_office, create_round
    from tests.conftest import SEED_NOTICE

    housing = Path(__file__).parent / "data" / "office_routing" / "housing-bureau-notice.txt"
    with app.app_context():
        r1 = create_round("r1", name="第一轮巡察")
        a, b, c = (create_office(s, name=s) for s in ("a", "b", "c"))
        import_notice(SEED_NOTICE.read_text(), slug="a-n", publish=True, office=a, round_=r1)
        import_notice(housing.read_text(), slug="b-n", publish=True, office=b, round_=r1)
        import_notice(housing.read_text(), slug="c-draft", publish=False, office=c, round_=r1)
        db.session.commit()
    return "r1"


def _check_round_array(items: list[dict[str, Any]]) -> None:
    assert all(set(item) == ROUND_KEYS for item in items)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert all(item["office"] in ("a", "b") and item["notice"] in ("a-n", "b-n") for item in items)


def test_round_prints_offices_and_notices_best_first(
    app: Flask, round_slug: str, runner: Any
) -> None:
    result = runner.invoke(args=["triage", "suggest", "--round", round_slug, HOUSING])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    _check_round_array(items)
    assert items and (items[0]["office"], items[0]["notice"]) == ("b", "b-n")
    procuratorate = runner.invoke(args=["triage", "suggest", "--round", round_slug, IN_SCOPE])
    assert json.loads(procuratorate.output)[0]["office"] == "a"


def test_round_stdin_prints_one_array_per_line(app: Flask, round_slug: str, runner: Any) -> None:
    texts = [HOUSING, OUT_OF_SCOPE, "", IN_SCOPE]
    result = runner.invoke(
        args=["triage", "suggest", "--round", round_slug], input="\n".join(texts) + "\n"
    )
    assert result.exit_code == 0, result.output
    arrays = [json.loads(line) for line in result.output.splitlines()]
    assert len(arrays) == len(texts)
    for items in arrays:
        _check_round_array(items)
    assert arrays[0] and arrays[3] and arrays[1] == [] and arrays[2] == []


def test_exactly_one_of_notice_and_round(app: Flask, round_slug: str, runner: Any) -> None:
    both = runner.invoke(args=["triage", "suggest", "--notice", "a-n", "--round", "r1", "文本"])
    neither = runner.invoke(args=["triage", "suggest", "文本"])
    unknown = runner.invoke(args=["triage", "suggest", "--round", "nope", "文本"])
    assert both.exit_code != 0 and neither.exit_code != 0 and unknown.exit_code != 0
    assert "--notice" in both.output and "nope" in unknown.output


def test_the_contract_holds_for_other_writings_and_other_bodies(
    app: Flask, published_notice: str, runner: Any
) -> None:
    """Traditional characters give the simplified answer; a complaint about another body (a
    doctor's 红包) gets [] from the CLI, as out-of-scope text does (issue #15)."""
    texts = [IN_SCOPE, "單位過節給職工發購物卡，工會經費被挪用了", "医院的医生收病人红包"]
    result = runner.invoke(
        args=["triage", "suggest", "--notice", published_notice], input="\n".join(texts) + "\n"
    )
    simplified, traditional, doctor = (json.loads(line) for line in result.output.splitlines())
    _check_array(traditional)
    assert simplified and [i["number"] for i in traditional] == [i["number"] for i in simplified]
    assert doctor == []
