"""`flask triage suggest`: the JSON contract of DESIGN.md."""

from __future__ import annotations

import json
from typing import Any

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
