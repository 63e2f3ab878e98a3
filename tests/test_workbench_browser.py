"""The triager's day in Chromium (issue 18): home, queue and detail at 1366x900 and 375x812,
with axe; the queue fills a desktop and never scrolls sideways on a phone; an action on the
detail page keeps the place (no navigation, same scroll position)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import CHANNELS, Submission
from portal.notices.models import Notice
from tests.conftest import STAFF_PASSWORD, totp_code_for
from tests.fixtures.browser import dump

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 812}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def office(app: Flask, published_notice: str) -> str:
    """A day's queue: opinions through every channel and in every waiting state; the first
    one long, with a picture and suggestions, so its page scrolls."""
    from portal.intake.service import Contact, Incoming, IncomingFile, record_submission

    states = ["received", "in_progress", "follow_up", "reopened", "waiting", "triaged"]
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        first = record_submission(
            Incoming(
                notice=notice,
                channel="web",
                subject="关于购物卡和公车私用",
                body="单位逢年过节给职工发放购物卡，工会经费被挪作他用。\n" * 12
                + "公车周末停在饭店门口，希望彻查。",
                consent=True,
                contact=Contact(name="李明", phone="13812341234", email="li@example.com"),
                attachments=[IncomingFile("现场照片.png", _png(), "image/png")],
            )
        ).code
        for i in range(18):
            record_submission(
                Incoming(
                    notice=notice,
                    channel=CHANNELS[i % len(CHANNELS)],
                    body=f"第{i}条意见：食堂采购价格虚高，账目不公开，希望公开采购明细。",
                    consent=True,
                )
            )
        rows = list(db.session.scalars(select(Submission).where(Submission.code != first)))
        for i, row in enumerate(rows):
            row.status = states[i % len(states)]
            if i % 4 == 1:
                row.reply_due_on = date.today() - timedelta(days=5)
        db.session.commit()
    return first


def _log_in(page: Any, app: Flask, base: str, user: Any) -> None:
    page.goto(f"{base}/staff/login")
    page.get_by_label("邮箱").fill(user.email)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/staff/login/verify")
    page.get_by_label("验证码").fill(totp_code_for(app, user.id))
    page.get_by_role("button", name="验证").click()
    page.wait_for_url(f"{base}/staff/")


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def test_home_queue_and_detail_read_well_on_a_desktop_and_a_phone(
    app: Flask, live_server: str, browser_page: Any, make_user: Any, office: str
) -> None:
    page = browser_page.page
    _log_in(page, app, live_server, make_user("triager"))
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        for url in ("/staff/", "/staff/queue", f"/staff/submissions/{office}"):
            page.goto(live_server + url)
            assert _no_sideways_scroll(page), (size, url)
            violations = browser_page.axe_violations()
            assert violations == [], (size, url, dump(violations))
    # Desktop: the queue uses the width, and no code or date breaks across lines.
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server}/staff/queue")
    width = page.evaluate("document.querySelector('table.queue').getBoundingClientRect().width")
    assert width > 1200
    broken = page.evaluate(
        """() => [...document.querySelectorAll('td.code a, td.when time')]
              .filter(el => el.getClientRects().length > 1).map(el => el.textContent)"""
    )
    assert broken == []
    # The markers a triager looks for are there, in words.
    text = page.locator("table.queue").inner_text()
    for marker in ("新追问", "不满意", "暂停计时", "已逾期"):
        assert marker in text, marker
    # On a phone, picking the whole page says how many the bulk action will touch.
    page.set_viewport_size(PHONE)
    page.reload()
    rows = page.locator("tr.queue-row").count()
    page.get_by_label("全选本页").check()
    assert page.locator("#bulk-scope").inner_text() == f"对选中的 {rows} 件意见："
    page.set_viewport_size(DESKTOP)
    # The home page's counts lead to the queue.
    page.goto(f"{live_server}/staff/")
    page.locator(".tile-follow_up a").click()
    page.wait_for_url("**/staff/queue?**")
    assert page.locator("tr.queue-row").count() == 3
    # The picture shows inline on the detail page.
    page.goto(f"{live_server}/staff/submissions/{office}")
    page.locator(".attachment-preview img").scroll_into_view_if_needed()  # loads lazily
    page.wait_for_function("document.querySelector('.attachment-preview img').complete")
    assert page.evaluate("document.querySelector('.attachment-preview img').naturalWidth") == 320
    assert browser_page.console_errors == []


def test_acting_on_the_detail_page_keeps_the_place(
    app: Flask, live_server: str, browser_page: Any, make_user: Any, office: str
) -> None:
    page = browser_page.page
    _log_in(page, app, live_server, make_user("triager"))
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(f"{live_server}/staff/submissions/{office}")
        page.evaluate("window.__sameDocument = true")
        # Note, at the foot of the page on a phone.
        page.locator("#note-body").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, 40)")
        before = page.evaluate("window.scrollY")
        assert before > 0
        note = f"电话核实（{size['width']}）"
        page.locator("#note-body").fill(note)
        page.get_by_role("button", name="添加备注").click()
        page.locator("#history", has_text=note).wait_for()
        assert page.evaluate("window.__sameDocument") is True  # no reload, no navigation
        assert page.evaluate("window.scrollY") == before
        assert "备注已保存" in page.locator(".live-flashes").inner_text()
    # Linking a finding, from the middle of the page.
    link = page.locator("#findings").get_by_role("button", name="关联", exact=True)
    link.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 40)")
    before = page.evaluate("window.scrollY")
    assert before > 0
    link.click()
    page.locator("#findings tr.confirmed").first.wait_for()
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate("window.scrollY") == before
    assert "确认关联问题" in page.locator("#history").inner_text()
    assert browser_page.console_errors == []
