"""The supervisor's oversight: figures per office and round checked against hand-built data
(deadline-day edge cases included), who may see the page, and the snapshot's refresh (one
worker at a time, recomputed when stale)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission

TODAY = date(2024, 3, 20)  # "today" for the snapshot, in Asia/Shanghai
B_FINDING = "乙单位食堂经费管理混乱"  # B's own finding 3 (A's is 执行议事规则不严格)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


# name: (office, on the round's notice, findings, received (UTC), status, reply due, answered (UTC))
PLAN: dict[str, tuple[str, bool, list[int], datetime, str, date, datetime | None]] = {
    # Answered 23:30 in Dongguan on its deadline day: in time.
    "a1": ("a", True, [1], utc(3, 1, 2), "received", date(2024, 3, 10), utc(3, 10, 15, 30)),
    # Answered 00:30 in Dongguan the day after (still 10 March in UTC): late.
    "a2": ("a", True, [1], utc(3, 1, 3), "received", date(2024, 3, 10), utc(3, 10, 16, 30)),
    # Due today and not answered yet: open, not overdue.
    "a3": ("a", True, [2], utc(3, 2, 2), "received", TODAY, None),
    # Due yesterday: overdue.
    "a4": ("a", True, [1], utc(3, 3, 2), "received", date(2024, 3, 19), None),
    # Spam counts nowhere, not even for its finding.
    "a5": ("a", True, [1], utc(3, 4, 2), "spam", date(2024, 3, 1), None),
    # No notice: A's, in no round; overdue.
    "a6": ("a", False, [], utc(2, 20, 2), "received", date(2024, 3, 1), None),
    "b1": ("b", True, [3], utc(3, 1, 2), "received", date(2024, 3, 5), None),
    "b2": ("b", True, [3], utc(3, 1, 4), "received", date(2024, 3, 10), utc(3, 8, 2)),
    # Nobody's yet: the inspection office routes it.
    "u1": ("", False, [], utc(3, 5, 2), "received", date(2024, 3, 20), None),
}


@dataclass
class Offices:
    a: int
    b: int
    round_id: int
    round_slug: str
    codes: dict[str, str]
    finding_titles: dict[int, str]
    a_notice_title: str


def build_offices(app: Flask, seed_text: str, admin: Any) -> Offices:
    """Office A (the default office, renamed 甲单位) and office B (乙单位), each with a notice in
    round r1; B's notice had a status update after publication, A's none."""
    from portal.intake.service import Incoming, record_submission
    from portal.notices.service import import_notice, set_finding_status
    from portal.offices.service import create_office, create_round, default_office
    from portal.staff.models import User
    from portal.triage.replies import send_reply

    with app.app_context():
        office_a = default_office()
        office_a.name = "甲单位"
        office_b = create_office("b", name="乙单位")
        round_ = create_round("r1", name="第一轮巡察", inspection_group="市委第一巡察组")
        notice_a = import_notice(
            seed_text, slug="a-notice", publish=True, office=office_a, round_=round_
        ).notice
        b_text = seed_text.replace("执行议事规则不严格", B_FINDING)
        notice_b = import_notice(
            b_text, slug="b-notice", publish=True, office=office_b, round_=round_
        ).notice
        db.session.flush()
        b3 = next(f for f in notice_b.findings if f.number == 3)
        assert b3.title == B_FINDING
        set_finding_status(
            b3, status="整改中", effective_on=date(2024, 3, 1), note="", actor="test"
        )
        db.session.commit()
        user = db.session.get(User, admin.id)
        offices = {"a": office_a, "b": office_b}
        notices = {"a": notice_a, "b": notice_b}
        codes = {}
        for name, (office, on_notice, findings, received, status, due, answered) in PLAN.items():
            receipt = record_submission(
                Incoming(
                    channel="letter" if name == "a6" else "web",
                    body=f"意见{name}：单位食堂浪费严重，请核查整改。",
                    notice=notices[office] if on_notice else None,
                    findings=findings,
                    received_at=received,
                    status=status,
                    consent=True,
                    office_id=offices[office].id if office else None,
                    unrouted=not office,
                )
            )
            codes[name] = receipt.code
            submission = db.session.get(Submission, receipt.submission_id)
            assert submission is not None
            submission.reply_due_on = due
            if answered is not None:
                reply = send_reply(submission, body=f"答复{name}", actor_user=user)
                db.session.flush()
                reply.created_at = answered
            db.session.commit()
        titles = {f.number: f.title for f in notice_a.findings}
        return Offices(
            office_a.id, office_b.id, round_.id, round_.slug, codes, titles, notice_a.title
        )


@pytest.fixture
def offices(app: Flask, seed_text: str, make_user: Any) -> Offices:
    return build_offices(app, seed_text, make_user("admin"))


def _by_office(rows: list[Any]) -> dict[int, Any]:
    return {row.office_id: row for row in rows}


def _figures(row: Any) -> tuple[int, int, int, int, int]:
    return (row.received, row.open, row.overdue, row.answered, row.answered_in_time)


def test_figures_per_office_and_round_match_the_hand_count(app: Flask, offices: Offices) -> None:
    from portal.ledger import oversight

    with app.app_context():
        written = oversight.refresh_figures(today=TODAY)
        # A, B and unrouted for every round; A and B in r1 (unrouted has no round).
        assert written == 5
        every = _by_office(oversight.overview(None))
        in_round = _by_office(oversight.overview(offices.round_id))
        # received, open, overdue (a4, a6), answered (a1, a2), in time (a1 only)
        assert _figures(every[offices.a]) == (5, 3, 2, 2, 1)
        assert every[offices.a].in_time_share == 0.5
        # a6 has no notice, so no round.
        assert _figures(in_round[offices.a]) == (4, 2, 1, 2, 1)
        assert _figures(every[offices.b]) == (2, 1, 1, 1, 1)
        assert _figures(in_round[offices.b]) == (2, 1, 1, 1, 1)
        assert every[offices.a].top_findings == [
            (offices.finding_titles[1], 3),  # a1, a2, a4; the spam a5 left out
            (offices.finding_titles[2], 1),
        ]
        assert every[offices.b].top_findings == [(B_FINDING, 2)]
        assert every[offices.a].silent_notices == [offices.a_notice_title]
        assert every[offices.b].silent_notices == []
        assert oversight.unrouted_count() == 1
        totals = oversight.round_totals()
        assert (totals[offices.round_id].offices, totals[offices.round_id].received) == (2, 6)
        assert (totals[None].overdue, totals[None].answered_in_time) == (3, 2)


def test_a_day_later_the_deadline_day_opinion_is_overdue(app: Flask, offices: Offices) -> None:
    from portal.ledger import oversight

    with app.app_context():
        oversight.refresh_figures(today=date(2024, 3, 21))
        every = _by_office(oversight.overview(None))
        assert every[offices.a].overdue == 3  # a3 joins a4 and a6


def test_supervisor_sees_every_office_others_are_refused(
    app: Flask, offices: Offices, staff_login: Any, make_user: Any
) -> None:
    from portal.ledger import oversight

    with app.app_context():
        oversight.refresh_figures(today=TODAY)
    supervisor = staff_login("supervisor")
    page = supervisor.get("/staff/oversight/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "甲单位" in html and "乙单位" in html
    assert "第一轮巡察" in html
    assert f"/staff/queue?office={offices.a}" in html
    assert f"/staff/dashboard?office={offices.b}" in html
    assert f"/staff/oversight/rounds/{offices.round_slug}/report.docx" in html
    assert "尚未分给任何单位的意见 1 件" in html
    assert "北京时间" in html
    assert "triager" not in html and "received" not in html  # words, not codes
    round_page = supervisor.get(f"/staff/oversight/?round={offices.round_slug}")
    assert round_page.status_code == 200
    assert supervisor.get("/staff/oversight/?round=nope").status_code == 404
    assert staff_login("admin").get("/staff/oversight/").status_code == 200
    for role in ("triager", "viewer", "editor"):
        assert staff_login(role).get("/staff/oversight/").status_code == 403, role
    anonymous = app.test_client().get("/staff/oversight/")
    assert anonymous.status_code == 302


@pytest.mark.config(OVERSIGHT_MAX_AGE=0)
def test_an_empty_snapshot_is_computed_at_once_a_stale_one_behind_the_page(
    app: Flask, offices: Offices, staff_login: Any
) -> None:
    from portal.ledger import oversight
    from portal.ledger.oversight_views import pending_refresh

    supervisor = staff_login("supervisor")
    html = supervisor.get("/staff/oversight/").get_data(as_text=True)
    assert "尚未分给任何单位的意见 1 件" in html  # computed before the first page
    before = pending_refresh()  # another test's, if any
    with app.app_context():
        first = oversight.computed_at()
        assert first is not None
        submission = db.session.scalar(
            select(Submission).where(Submission.code == offices.codes["u1"])
        )
        assert submission is not None
        submission.office_id = offices.b  # routed since
        db.session.commit()
    html = supervisor.get("/staff/oversight/").get_data(as_text=True)
    # Stale: this page shows the snapshot it has while a thread recomputes it.
    assert "尚未分给任何单位的意见 1 件" in html
    refresher = pending_refresh()
    assert refresher is not None and refresher is not before
    refresher.join(timeout=120)
    assert not refresher.is_alive()
    with app.app_context():
        second = oversight.computed_at()
        assert second is not None and second >= first
        assert oversight.unrouted_count() == 0
        b_row = _by_office(oversight.overview(None))[offices.b]
        assert b_row.received == 3  # b1, b2 and the routed u1


def test_a_fresh_snapshot_is_served_as_it_is(app: Flask, offices: Offices) -> None:
    from portal.ledger import oversight

    with app.app_context():
        oversight.refresh_figures(today=TODAY)
        at = oversight.computed_at()
        assert oversight.refresh_if_stale(300) is False
        assert oversight.computed_at() == at
        assert oversight.refresh_if_stale(0) is True


def test_a_second_refresher_does_not_recompute_while_the_lease_is_held(
    app: Flask, offices: Offices, runner: Any
) -> None:
    from portal.ledger import oversight

    with app.app_context():
        assert oversight.acquire_lease("other-worker")
        assert oversight.refresh_if_stale(0) is False
        assert oversight.computed_at() is None  # nothing computed behind the holder's back
        result = runner.invoke(args=["oversight", "refresh"])
        assert result.exit_code == 0
        assert "另一进程正在计算" in result.output
        assert oversight.computed_at() is None
        oversight.release_lease("other-worker")
        result = runner.invoke(args=["oversight", "refresh"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("refreshed 5 rows in ")
        assert oversight.computed_at() is not None


def test_an_expired_lease_is_taken_over(app: Flask, offices: Offices) -> None:
    from datetime import timedelta

    from portal.ledger import oversight

    with app.app_context():
        assert oversight.acquire_lease("crashed", lease=timedelta(seconds=-1))
        assert oversight.refresh_if_stale(0) is True
