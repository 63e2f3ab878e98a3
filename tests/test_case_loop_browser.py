"""The citizen's side of the case loop (#17) in Chromium, phone and desktop sized, with axe: a
merged citizen reads the original's reply, a follow-up raises the case in the staff queue, 不满意
reopens and escalates, a paused case shows its question and its deadline moves by the paused
working days (the National Day holiday inside the pause does not count)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.outbox.models import OutboxMessage
from tests.conftest import form_post
from tests.fixtures.browser import PageProbe, dump
from tests.test_intake_staff_browser import log_in
from tests.test_replies import _record, _reply

pytestmark = pytest.mark.browser

SIZES = [(375, 812), (1366, 900)]


def _open_case(probe: PageProbe, base: str, receipt: Any) -> None:
    page = probe.page
    page.goto(f"{base}/track")
    page.fill("#code", receipt.code)
    page.fill("#secret", receipt.secret)
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url("**/track/status")


def _clean(probe: PageProbe) -> None:
    assert probe.axe_violations() == [], dump(probe.axe_violations())
    assert probe.console_errors == [], probe.console_errors


def _status(app: Flask, receipt: Any) -> str:
    with app.app_context():
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None
        return submission.status


@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_a_merged_citizen_sees_the_originals_reply(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    published_notice: str,
    staff_login: Any,
    size: tuple[int, int],
) -> None:
    from portal.triage.actions import merge_duplicate

    browser_page.page.set_viewport_size({"width": size[0], "height": size[1]})
    original = _record(app, published_notice)
    merged = _record(app, published_notice, body="我也反映食堂浪费：饭菜大量倒掉。")
    with app.app_context():
        dup = db.session.get(Submission, merged.submission_id)
        orig = db.session.get(Submission, original.submission_id)
        merge_duplicate(dup, orig, actor="test", reason="同一件事")  # type: ignore[arg-type]
        db.session.commit()
    answer = "您好，食堂已实行按需取餐并每周公示剩餐量。"
    assert _reply(staff_login("triager"), original.code, answer).status_code == 303

    _open_case(browser_page, live_server, merged)
    page = browser_page.page
    assert answer in page.inner_text("body")
    assert original.code in page.inner_text(".merged-note")
    assert "已答复" in page.inner_text(".status")
    _clean(browser_page)


@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_a_follow_up_raises_the_case_and_unsatisfied_reopens_and_escalates(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    published_notice: str,
    staff_login: Any,
    make_user: Any,
    size: tuple[int, int],
) -> None:
    make_user("supervisor", "chief@example.com")
    browser_page.page.set_viewport_size({"width": size[0], "height": size[1]})
    receipt = _record(app, published_notice)
    staff = staff_login("triager")
    assert _reply(staff, receipt.code, "食堂已整改。").status_code == 303

    _open_case(browser_page, live_server, receipt)
    page = browser_page.page
    page.fill("#body", "整改后还是有浪费，昨天又倒掉两桶饭。")
    page.get_by_role("button", name="提交补充").click()
    page.wait_for_url("**/track/status")
    assert _status(app, receipt) == "follow_up"
    queue = staff.get("/staff/queue?status=follow_up").get_data(as_text=True)
    assert receipt.code in queue

    # Staff answer the follow-up; the citizen is still not satisfied.
    assert _reply(staff, receipt.code, "已再次督促整改。").status_code == 303
    page.reload()
    _clean(browser_page)
    page.get_by_label("不满意").check()
    page.fill("#comment", "仍未解决")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_url("**/track/status")
    assert "不满意" in page.inner_text(".status")
    assert _status(app, receipt) == "reopened"
    with app.app_context():
        escalation = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "escalation")
        )
        assert escalation is not None and escalation.to == "chief@example.com"
    _clean(browser_page)


@pytest.mark.parametrize("size", SIZES, ids=["phone", "desktop"])
def test_a_paused_case_shows_the_pause_on_both_sides_and_its_deadline_moves(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    published_notice: str,
    staff_login: Any,
    make_user: Any,
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    browser_page.page.set_viewport_size({"width": size[0], "height": size[1]})
    receipt = _record(app, published_notice)
    staff = staff_login("triager")
    monkeypatch.setattr("portal.triage.case_views.local_today", lambda: date(2024, 9, 30))
    response = form_post(
        staff,
        f"/staff/submissions/{receipt.code}/ask",
        {"question": "请问是哪一个食堂？"},
        form_url=f"/staff/submissions/{receipt.code}",
    )
    assert response.status_code == 303
    with app.app_context():
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None
        submission.reply_due_on = date(2024, 10, 21)
        db.session.commit()
    # Staff side: the case reads 等待补充 and the pause with its start day.
    detail = staff.get(f"/staff/submissions/{receipt.code}").get_data(as_text=True)
    assert "等待补充" in detail

    _open_case(browser_page, live_server, receipt)
    page = browser_page.page
    assert "请问是哪一个食堂？" in page.inner_text(".question")
    assert "暂停计算" in page.inner_text(".pause")
    _clean(browser_page)

    # Answered on Tuesday 8 October: 1-7 October is the National Day holiday, so the clock
    # stood still for one working day (the 8th) and the deadline moves from 21 to 22 October.
    monkeypatch.setattr("portal.triage.case_loop.local_today", lambda: date(2024, 10, 8))
    page.fill("#body", "是第二食堂。")
    page.get_by_role("button", name="提交补充").click()
    page.wait_for_url("**/track/status")
    pause_text = page.inner_text(".status-list")
    assert "暂停1个工作日" in pause_text and "2024年10月22日" in pause_text
    assert _status(app, receipt) == "in_progress"
    _clean(browser_page)

    # The staff side of the same pause, on the detail page.
    log_in(browser_page, app, live_server, make_user("triager"))
    page.goto(f"{live_server}/staff/submissions/{receipt.code}")
    staff_text = page.inner_text("#case-state")
    assert "暂停1个工作日，期限由2024-10-21顺延至2024-10-22" in staff_text
    _clean(browser_page)
