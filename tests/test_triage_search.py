"""Full-text search for Chinese without spaces, on SQLite (FTS5 trigram + LIKE) and
PostgreSQL (pg_trgm): 2- and 4-character terms, follow-ups, no false hits."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from portal.extensions import db
from portal.intake.models import Submission
from portal.triage import queue, search

DOCS = {
    "car": "反映公务用车私用问题，周末经常看到单位的车停在商场。",
    "card": "逢年过节发放购物卡，工会经费使用不规范。",
    "clerk": "公务员用车补贴发放不透明。",  # shares characters, not the phrase 公务用车
    "mixed": "ＡＢＣ公司的排污问题，100% 没有整改。",
}


def _record(body: str, subject: str | None = None) -> int:
    from portal.intake.service import Incoming, record_submission

    return record_submission(
        Incoming(channel="email", body=body, subject=subject, notice=None)
    ).submission_id


def _codes_for(q: str) -> set[int]:
    rows = queue.page(queue.parse_filter({"q": q}), user_id=None, today=date.today())
    return {s.id for s in rows.rows}


@pytest.fixture
def docs(app: Flask) -> Any:
    with app.app_context():
        ids = {key: _record(body) for key, body in DOCS.items()}
        yield ids


def test_search_index_is_installed(app: Flask) -> None:
    with app.app_context():
        conn = db.session.connection()
        if conn.dialect.name == "sqlite":
            names = conn.execute(text("SELECT name FROM sqlite_master")).scalars().all()
            assert search.FTS_TABLE in names
        else:
            names = (
                conn.execute(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'submission_search'")
                )
                .scalars()
                .all()
            )
            assert search.PG_INDEX in names


def test_four_character_term(docs: dict[str, int]) -> None:
    assert _codes_for("公务用车") == {docs["car"]}


def test_two_character_term(docs: dict[str, int]) -> None:
    assert _codes_for("用车") == {docs["car"], docs["clerk"]}
    assert _codes_for("工会") == {docs["card"]}


def test_one_character_and_three_character_terms(docs: dict[str, int]) -> None:
    assert _codes_for("卡") == {docs["card"]}
    assert _codes_for("购物卡") == {docs["card"]}


def test_several_terms_must_all_match(docs: dict[str, int]) -> None:
    assert _codes_for("用车 商场") == {docs["car"]}
    assert _codes_for("公务用车 工会") == set()


def test_no_false_hits(docs: dict[str, int]) -> None:
    assert _codes_for("用车私补") == set()
    assert _codes_for("检察院") == set()
    assert _codes_for("%") == {docs["mixed"]}  # a literal percent sign, not a wildcard
    assert _codes_for("_") == set()


def test_full_width_and_case_are_folded(docs: dict[str, int]) -> None:
    assert _codes_for("abc") == {docs["mixed"]}
    assert _codes_for("ａｂｃ公司") == {docs["mixed"]}


def test_follow_ups_are_searched(app: Flask, docs: dict[str, int]) -> None:
    from portal.intake.follow_ups import add_follow_up

    with app.app_context():
        submission = db.session.get(Submission, docs["card"])
        add_follow_up(submission, body="补充：食堂浪费也很严重。", channel="web")
    with app.app_context():
        assert _codes_for("食堂浪费") == {docs["card"]}
        assert _codes_for("浪费") == {docs["card"]}


def test_subject_and_edits_are_reindexed(app: Flask) -> None:
    with app.app_context():
        sid = _record("正文内容并不相关，只是随便写写。", subject="违规吃喝问题")
        assert _codes_for("违规吃喝") == {sid}
        submission = db.session.get(Submission, sid)
        submission.body = "改写后的正文：招投标存在围标串标。"
        db.session.commit()
        assert _codes_for("围标串标") == {sid}
        assert _codes_for("随便写写") == set()


def test_reindex_restores_a_lost_row(app: Flask, docs: dict[str, int]) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM submission_search"))
        db.session.commit()
        assert _codes_for("公务用车") == set()
        search.reindex(docs["car"])
        db.session.commit()
        assert _codes_for("公务用车") == {docs["car"]}
        assert _codes_for("工会") == set()


def test_search_combines_with_other_filters(app: Flask, docs: dict[str, int]) -> None:
    with app.app_context():
        args = {"q": "用车", "status": "received", "channel": "letter"}
        result = queue.page(queue.parse_filter(args), user_id=None, today=date.today())
        assert result.rows == []


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=st.lists(st.text(alphabet=CJK, min_size=10, max_size=30), min_size=1, max_size=4),
    term=st.text(alphabet=CJK, min_size=1, max_size=5),
)
def test_search_finds_exactly_the_texts_containing_the_term(
    app: Flask, bodies: list[str], term: str
) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM submissions"))
        db.session.commit()
        ids = {_record(body): body for body in bodies}
        expected = {i for i, body in ids.items() if term in body}
        assert _codes_for(term) == expected
        all_ids = set(db.session.scalars(select(Submission.id)))
        assert all_ids == set(ids)


def test_replies_are_searched(app: Flask, docs: dict[str, int], make_user: Any) -> None:
    from portal.triage.replies import send_reply

    with app.app_context():
        staff = make_user(role="triager")
        submission = db.session.get(Submission, docs["car"])
        send_reply(submission, body="经核查，车辆已收回并登记使用台账。", actor_user=staff)
        db.session.commit()
    with app.app_context():
        assert _codes_for("使用台账") == {docs["car"]}
        assert _codes_for("收回") == {docs["car"]}
