"""A triager logs a letter with its scans in Chromium, reads out the receipt, prints the reply."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.notices.models import Notice
from tests.conftest import STAFF_PASSWORD, totp_code_for
from tests.fixtures.browser import PageProbe, dump
from tests.fixtures.intake import gen_image, gen_pdf

pytestmark = pytest.mark.browser

CODE = r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$"
SH = ZoneInfo("Asia/Shanghai")


def log_in(probe: PageProbe, app: Flask, base: str, user: Any) -> None:
    page = probe.page
    page.goto(f"{base}/staff/intake/new")
    assert "/staff/login" in page.url
    page.get_by_label("邮箱").fill(user.email)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    if "/staff/login/verify" in page.url:  # roles that need 2FA
        page.get_by_label("验证码").fill(totp_code_for(app, user.id))
        page.get_by_role("button", name="验证").click()
    page.wait_for_url("**/staff/intake/new")


def test_triager_logs_a_letter_with_scans_and_prints_the_reply(
    app: Flask, live_server: str, browser_page: PageProbe, make_user: Any, published_notice: str
) -> None:
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        notice.feedback_closes_at = datetime(2024, 3, 2, tzinfo=SH).astimezone(UTC)
        db.session.commit()
    page = browser_page.page
    log_in(browser_page, app, live_server, make_user("triager"))
    assert "0769-22366196" in page.inner_text(".contacts-box"), "the notice's phone is shown"

    page.check("#channel-letter")
    page.fill("#received_on", "2024-03-06")
    page.fill("#postmarked_on", "2024-03-01")
    page.fill("#contact_name", "张三")
    page.fill("#contact_postcode", "523000")
    page.fill("#contact_address", "东莞市东城区某路1号")
    page.check("#consent")
    page.fill("#body", "来信反映采购项目审查情况报告没有公开。")
    page.check("#finding-13")
    page.set_input_files(
        "#attachments",
        files=[
            {"name": "信件第1页.png", "mimeType": "image/png", "buffer": gen_image("PNG")},
            {"name": "信封.pdf", "mimeType": "application/pdf", "buffer": gen_pdf("envelope")},
        ],
    )
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    page.get_by_role("button", name="登记并生成回执").click()

    page.wait_for_url("**/staff/intake/receipt")
    code = page.inner_text("#receipt-code").strip()
    assert re.match(CODE, code), code
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", page.inner_text("#receipt-secret").strip())
    assert "只显示这一次" in page.content()
    assert page.get_by_role("link", name="信件第1页.png").is_visible()
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.code == code))
        assert submission is not None and submission.channel == "letter"
        assert not submission.late, "postmarked on the last day"
        assert sorted(a.filename for a in submission.attachments) == ["信件第1页.png", "信封.pdf"]

    page.get_by_role("link", name="写答复信").click()
    page.wait_for_url(f"**/staff/intake/letters/{code}")
    assert "张三" not in page.locator(".letter-sheet").inner_text(), "masked until a reason"
    page.fill("#reply", "经核查，您反映的问题已整改。")
    page.fill("#reason", "邮寄答复")
    page.get_by_role("button", name="显示收信人，准备打印").click()
    page.wait_for_load_state()
    sheet = page.locator(".letter-sheet")
    assert "经核查，您反映的问题已整改。" in sheet.inner_text()
    assert code in sheet.inner_text() and "张三" in sheet.inner_text()
    page.emulate_media(media="print")
    assert not page.locator(".letter-tools").is_visible(), "the editing panel does not print"
    assert not page.locator(".site-header").is_visible()
    pdf = page.pdf(prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, "the reply fits one A4 page"
    assert browser_page.console_errors == [], browser_page.console_errors
    assert browser_page.failed_requests == [], browser_page.failed_requests


SIZES = [{"width": 1366, "height": 900}, {"width": 375, "height": 812}]


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_only_the_chosen_channels_fields_show_and_yesterdays_call_needs_one_date(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    make_user: Any,
    published_notice: str,
    size: dict[str, int],
) -> None:
    page = browser_page.page
    page.set_viewport_size(size)
    log_in(browser_page, app, live_server, make_user("triager"))
    # The letter (the default): postmark and letter date, no receptionist, no call time.
    assert page.locator("#postmarked_on").is_visible()
    assert page.locator("#letter_dated_on").is_visible()
    assert not page.locator("#received_by").is_visible()
    assert not page.locator("#called_at").is_visible()
    assert page.get_by_label("收到日期", exact=True).is_visible()
    assert not page.get_by_text("（仅信件填写）").is_visible(), "no-script hints hidden"
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())

    page.check("#channel-visit")
    assert page.locator("#received_by").is_visible(), "接待人 only for visits"
    assert page.get_by_label("来访日期", exact=True).is_visible()
    assert not page.locator("#postmarked_on").is_visible()
    page.check("#channel-box")
    assert page.get_by_label("开箱日期", exact=True).is_visible()
    assert not page.locator("#received_by").is_visible()

    page.check("#channel-phone")
    assert not page.locator("#received_on").is_visible(), "a call is dated by its time"
    assert page.locator("#called_at").is_visible() and page.locator("#duration_min").is_visible()
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], "no sideways scroll"
    yesterday = datetime.now(SH).date().toordinal() - 1
    day = datetime.fromordinal(yesterday).date().isoformat()
    page.fill("#called_at", f"{day}T15:30")
    page.check("#anonymous")
    page.fill("#body", "昨天下午来电反映路灯长期不亮。")
    page.get_by_role("button", name="登记并生成回执").click()
    page.wait_for_url("**/staff/intake/receipt")
    code = page.inner_text("#receipt-code").strip()
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.code == code))
        assert submission is not None and submission.channel == "phone"
        received = submission.received_at
        received = received if received.tzinfo else received.replace(tzinfo=UTC)
        assert received.astimezone(SH).strftime("%Y-%m-%d %H:%M") == f"{day} 15:30"
        assert "received_by" not in (submission.channel_details or {})
    assert browser_page.console_errors == [], browser_page.console_errors
    assert browser_page.failed_requests == [], browser_page.failed_requests
