"""The staff queue: filters, counts per status, keyset pages, bulk actions, saved views, and the
one-office user's pages walking the office indexes on PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from portal.extensions import db
from portal.intake.models import Submission, SubmissionFinding
from portal.triage import queue
from portal.triage.models import SavedView
from portal.triage.workflow import change_status
from tests.conftest import form_post

BASE = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def _record(notice: Any = None, **kw: Any) -> int:
    from portal.intake.service import Incoming, IncomingFile, record_submission

    kw.setdefault("channel", "email")
    kw.setdefault("body", "关于整改工作的一点意见，请认真研究。")
    if kw.pop("pdf", False):
        from tests.fixtures.intake import gen_pdf

        kw["attachments"] = [IncomingFile("材料.pdf", gen_pdf(), "application/pdf")]
    return record_submission(Incoming(notice=notice, **kw)).submission_id


def _ids(args: dict[str, Any], *, user_id: int | None = None, size: int = 50) -> list[int]:
    f = queue.parse_filter(args)
    return [s.id for s in queue.page(f, user_id=user_id, today=date(2024, 3, 20), size=size).rows]


def _walk(args: dict[str, Any], size: int) -> tuple[list[int], int]:
    """All rows by following next cursors; also how many pages it took."""
    seen: list[int] = []
    pages = 0
    cursor = None
    while True:
        f = queue.parse_filter({**args, **({"after": cursor} if cursor else {})})
        result = queue.page(f, user_id=None, today=date(2024, 3, 20), size=size)
        pages += 1
        seen += [s.id for s in result.rows]
        cursor = result.next_cursor
        if cursor is None:
            return seen, pages


def test_filters(app: Flask, notice: Any, make_user: Any) -> None:
    user = make_user("triager")
    f1 = notice.findings[0]
    f2 = next(f for f in notice.findings if f.category_id != f1.category_id)
    web = _record(
        notice,
        channel="web",
        body="网上提交的意见：" + "整改" * 10,
        findings=[f1.number],
        received_at=BASE,
    )
    letter = _record(notice, channel="letter", received_at=BASE + timedelta(days=3), late=True)
    phone = _record(None, channel="phone", received_at=BASE + timedelta(days=10), pdf=True)
    mine = db.session.get(Submission, letter)
    mine.assignee_id = user.id
    db.session.add(SubmissionFinding(submission_id=phone, finding_id=f2.id, source="staff"))
    db.session.commit()

    assert _ids({"notice": str(notice.id)}) == [letter, web]
    assert _ids({"finding": str(f1.id)}) == [web]
    assert _ids({"category": str(f2.category_id)}) == [phone]
    assert _ids({"category": str(f1.category_id)}) == [web]
    assert _ids({"channel": "phone"}) == [phone]
    assert _ids({"assignee": "me"}, user_id=user.id) == [letter]
    assert _ids({"assignee": str(user.id)}) == [letter]
    assert _ids({"assignee": "none"}) == [phone, web]
    assert _ids({"late": "1"}) == [letter]
    assert _ids({"attachments": "1"}) == [phone]
    # Local dates: 4 March 10:00 Shanghai is in "4 March" whatever UTC says.
    assert _ids({"from": "2024-03-04", "to": "2024-03-04"}) == [web]
    assert _ids({"from": "2024-03-05"}) == [phone, letter]
    assert _ids({"to": "2024-03-07"}) == [letter, web]


@pytest.mark.usefixtures("ctx")
def test_overdue_counts_open_submissions_past_their_reply_date(app: Flask) -> None:
    old = _record(received_at=BASE - timedelta(days=60))
    replied = _record(received_at=BASE - timedelta(days=60))
    _record(received_at=BASE + timedelta(days=10))
    submission = db.session.get(Submission, replied)
    change_status(submission, "triaged", actor="t")
    change_status(submission, "replied", actor="t")
    db.session.commit()
    assert _ids({"overdue": "1"}) == [old]


@pytest.mark.usefixtures("ctx")
def test_counts_per_status_ignore_the_status_filter(app: Flask) -> None:
    a = _record(received_at=BASE)
    _record(received_at=BASE)
    _record(received_at=BASE, status="held", hold_reason="验证码服务不可用")
    change_status(db.session.get(Submission, a), "spam", actor="t", reason="广告")
    db.session.commit()
    result = queue.page(queue.parse_filter({"status": "received"}), user_id=None, today=BASE.date())
    assert result.counts == {"received": 1, "held": 1, "spam": 1}
    assert result.total == 1 and len(result.rows) == 1


@pytest.mark.usefixtures("ctx")
def test_keyset_pages_cover_every_row_once_in_order(app: Flask) -> None:
    # Same timestamps on purpose: the id breaks ties.
    ids = [_record(received_at=BASE + timedelta(hours=i // 3)) for i in range(11)]
    expected = sorted(
        ids, key=lambda i: (db.session.get(Submission, i).received_at, i), reverse=True
    )
    seen, pages = _walk({}, size=4)
    assert seen == expected
    assert pages == 3


@pytest.mark.usefixtures("ctx")
def test_keyset_pages_by_due_date(app: Flask) -> None:
    ids = [_record(received_at=BASE + timedelta(days=i % 4)) for i in range(9)]
    no_date = db.session.get(Submission, ids[0])
    no_date.reply_due_on = None
    db.session.commit()
    rows = {i: db.session.get(Submission, i).reply_due_on for i in ids}
    expected = [*sorted((i for i in ids if rows[i]), key=lambda i: (rows[i], i)), ids[0]]
    seen, _ = _walk({"sort": "due"}, size=2)
    assert seen == expected


@pytest.mark.usefixtures("ctx")
def test_no_offset_in_queue_sql(app: Flask) -> None:
    for i in range(5):
        _record(received_at=BASE + timedelta(minutes=i))
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        statements.append((statement.upper(), params))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        _walk({}, size=2)
        _walk({"sort": "due"}, size=2)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert statements
    for statement, params in statements:
        # SQLite's dialect always writes "LIMIT ? OFFSET ?"; the offset bound must be 0.
        if "OFFSET" in statement:
            assert statement.rstrip().endswith("OFFSET ?") and params[-1] == 0, statement


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "status",
                "channel",
                "after",
                "sort",
                "from",
                "notice",
                "assignee",
                "office",
                "campaign",
                "due_soon",
            ]
        ),
        st.text(max_size=30),
    )
)
def test_nonsense_filters_are_refused_not_crashing(args: dict[str, str]) -> None:
    try:
        f = queue.parse_filter(args)
    except queue.BadFilter:
        return
    assert f.sort in queue.SORTS
    # A parsed filter survives a round trip through its own query string.
    from urllib.parse import parse_qs

    again = queue.parse_filter({k: v[0] for k, v in parse_qs(f.query_string()).items()})
    assert again == f


def test_queue_page_for_roles(app: Flask, staff_login: Any, make_user: Any) -> None:
    # HTTP tests run outside any app context: Flask would reuse it and share `g` (the login).
    with app.app_context():
        _record(body="页面上应能看到的一条意见内容，用于测试。", received_at=BASE)
    for role in ("viewer", "triager", "admin"):
        page = staff_login(role).get("/staff/queue")
        assert page.status_code == 200, role
        html = page.get_data(as_text=True)
        assert "页面上应能看到的一条意见内容" in html
        assert ('action="/staff/queue/bulk"' in html) == (role != "viewer")
    assert staff_login("editor").get("/staff/queue").status_code == 403
    anonymous = app.test_client().get("/staff/queue")
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.location
    bad = staff_login("viewer").get("/staff/queue?status=nonsense")
    assert bad.status_code == 303


def test_the_next_page_link_leads_to_the_older_opinions(app: Flask, staff_login: Any) -> None:
    with app.app_context():
        for n in range(queue.PAGE_SIZE + 1):
            at = BASE + timedelta(minutes=n)
            _record(body=f"第{n:03d}号意见，关于整改工作。", received_at=at)
    client = staff_login("triager")
    first = client.get("/staff/queue").get_data(as_text=True)
    assert "第050号意见" in first and "第000号意见" not in first
    link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert link is not None
    older = client.get(html.unescape(link.group(1)))
    assert older.status_code == 200
    text = older.get_data(as_text=True)
    assert "第000号意见" in text and "第050号意见" not in text


def test_overdue_rows_are_highlighted(app: Flask, staff_login: Any) -> None:
    with app.app_context():
        _record(received_at=datetime.now(UTC) - timedelta(days=60))
    html = staff_login("viewer").get("/staff/queue").get_data(as_text=True)
    assert "deadline-overdue" in html and "已逾期" in html


def test_bulk_actions(app: Flask, staff_login: Any, make_user: Any, published_notice: str) -> None:
    from portal.notices.models import Notice

    client = staff_login("triager")
    worker = make_user("triager")
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        ids = [_record(notice, received_at=BASE + timedelta(minutes=i)) for i in range(3)]
        finding_id, notice_id = notice.findings[2].id, notice.id
    url = "/staff/queue/bulk"
    form_url = f"/staff/queue?notice={notice_id}"

    def bulk(c: Any, **data: Any) -> Any:
        return form_post(c, url, data, form_url=form_url)

    assert bulk(client, ids=ids[:2], action="assign", assignee=worker.id).status_code == 303
    bulk(client, ids=ids, action="status", status="triaged")
    refused = bulk(client, ids=ids[:1], action="status", status="closed")  # no reason
    assert refused.status_code == 303
    bulk(client, ids=ids[1:], action="finding", finding=finding_id)
    with app.app_context():
        rows = [db.session.get(Submission, i) for i in ids]
        assert [s.assignee_id for s in rows] == [worker.id, worker.id, None]
        assert [s.status for s in rows] == ["triaged"] * 3
        links = db.session.scalars(
            select(SubmissionFinding.submission_id).where(
                SubmissionFinding.finding_id == finding_id
            )
        ).all()
        assert sorted(links) == ids[1:]

    viewer = staff_login("viewer")
    r = form_post(
        viewer,
        url,
        {"ids": ids, "action": "status", "status": "spam", "reason": "x"},
        form_url="/staff/queue",
    )
    assert r.status_code == 403
    with app.app_context():
        assert db.session.get(Submission, ids[0]).status == "triaged"


def test_saved_views_belong_to_their_user(app: Flask, staff_login: Any) -> None:
    client = staff_login("viewer")
    r = form_post(
        client,
        "/staff/queue/views",
        {"name": "我的逾期", "overdue": "1", "channel": "letter"},
        form_url="/staff/queue",
    )
    assert r.status_code == 303
    assert "overdue=1" in r.location and "channel=letter" in r.location
    html = client.get("/staff/queue").get_data(as_text=True)
    assert "我的逾期" in html
    with app.app_context():
        view = db.session.scalar(select(SavedView))
    other = staff_login("triager")
    assert "我的逾期" not in other.get("/staff/queue").get_data(as_text=True)
    r = form_post(other, f"/staff/queue/views/{view.id}/delete", {}, form_url="/staff/queue")
    assert r.status_code == 404
    r = form_post(client, f"/staff/queue/views/{view.id}/delete", {}, form_url="/staff/queue")
    assert r.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(SavedView)) is None


@pytest.mark.parametrize("role", ["editor"])
def test_editors_cannot_use_saved_views_or_bulk(staff_login: Any, role: str) -> None:
    client = staff_login(role)
    for url in ("/staff/queue/views", "/staff/queue/bulk", "/staff/queue/views/1/delete"):
        r = form_post(client, url, {"name": "x"}, form_url="/staff/account")
        assert r.status_code == 403, url


@pytest.mark.config(QUEUE_COUNTS_TTL=60)
@pytest.mark.usefixtures("ctx")
def test_counts_are_reused_for_a_while_but_the_rows_never_are(app: Flask) -> None:
    _record(received_at=BASE)
    first = queue.page(queue.parse_filter({}), user_id=None, today=BASE.date())
    _record(received_at=BASE + timedelta(minutes=1))
    again = queue.page(queue.parse_filter({"status": "received"}), user_id=None, today=BASE.date())
    assert first.counts == again.counts == {"received": 1}  # the header lags a little
    assert len(again.rows) == 2  # the rows are always current
    other = queue.page(queue.parse_filter({"channel": "web"}), user_id=None, today=BASE.date())
    assert other.counts == {}  # another filter is counted on its own


# --- scale: a one-office user's pages stay on the office indexes ---------------------------


def _copies(code: str, a_id: int, b_id: int, n: int) -> None:
    """n more rows by SQL, one in a hundred A's, the rest B's: A is one office of many, as in
    a round of dozens of offices, and the table is big enough for the planner to care."""
    made = ("id", "code", "office_id", "received_at", "reply_due_on", "message_id", "dedupe_key")
    names = [c.name for c in Submission.__table__.columns if c.name not in made]
    db.session.execute(
        text(
            "INSERT INTO submissions (code, office_id, received_at, reply_due_on, "
            f"{', '.join(names)}) "
            "SELECT 'T' || lpad(g::text, 10, '0'), CASE WHEN g % 100 = 0 THEN :a ELSE :b END, "
            "s.received_at - g * interval '1 minute', s.reply_due_on - g / 7, "
            f"{', '.join('s.' + c for c in names)} "
            "FROM submissions s, generate_series(1, :n) g WHERE s.code = :code"
        ),
        {"a": a_id, "b": b_id, "n": n, "code": code},
    )
    db.session.execute(text("ANALYZE submissions"))


def _explain(f: queue.QueueFilter, offices: frozenset[int]) -> str:
    stmt = queue.rows_statement(f, user_id=None, today=date.today(), offices=offices)
    compiled = stmt.compile(db.engine, compile_kwargs={"render_postcompile": True})
    connection = db.session.connection()
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars()
    return "\n".join(rows)


@pytest.mark.postgres_only
@pytest.mark.usefixtures("ctx")
def test_a_one_office_queue_walks_the_office_indexes_on_postgresql(app: Flask) -> None:
    """EXPLAIN of the queue's own statements for a one-office user, first and deep pages."""
    from portal.offices.service import create_office, default_office

    a, b = default_office(), create_office("b", name="乙单位")
    db.session.commit()
    first_row = db.session.get(Submission, _record(office_id=a.id, received_at=BASE))
    _copies(first_row.code, a.id, b.id, 20_000)
    offices = frozenset({a.id})
    for sort, index in (
        ("received", "ix_submissions_office_received"),
        ("due", "ix_submissions_office_due"),
    ):
        first = queue.parse_filter({"sort": sort})
        rows = queue.page(first, user_id=None, today=date.today(), offices=offices, size=100)
        assert rows.next_cursor is not None
        deep = queue.parse_filter({"sort": sort, "after": rows.next_cursor})
        for f in (first, deep):
            plan = _explain(f, offices)
            assert index in plan, (sort, f.after, plan)
            assert not re.search(r"\bSort\b", plan), plan  # the index gives the order
    db.session.rollback()
