"""Administration pages in Chromium at 1366x900 and 375x812, with axe: an admin changes an
account's role; a triager writes a canned reply; the notice list shows each finding's status;
a referral letter prints on one A4 page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.staff.models import User
from tests.conftest import STAFF_PASSWORD, totp_code_for
from tests.fixtures.browser import PageProbe, dump

pytestmark = pytest.mark.browser

SIZES = [{"width": 1366, "height": 900}, {"width": 375, "height": 812}]


def log_in(probe: PageProbe, app: Flask, base: str, user: Any, target: str) -> None:
    page = probe.page
    page.goto(f"{base}{target}")
    page.get_by_label("邮箱").fill(user.email)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    if "/staff/login/verify" in page.url:
        page.get_by_label("验证码").fill(totp_code_for(app, user.id))
        page.get_by_role("button", name="验证").click()
    page.wait_for_url(f"**{target}")


def clean(probe: PageProbe, size: dict[str, int]) -> None:
    assert probe.axe_violations() == [], dump(probe.axe_violations())
    width = probe.page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"] or probe.page.locator(".table-scroll").count(), width
    assert probe.console_errors == [], probe.console_errors


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_admin_changes_a_role_in_the_browser(
    app: Flask, live_server: str, browser_page: PageProbe, make_user: Any, size: dict[str, int]
) -> None:
    page = browser_page.page
    page.set_viewport_size(size)
    triager = make_user("triager")
    log_in(browser_page, app, live_server, make_user("admin"), "/staff/users")
    clean(browser_page, size)
    row = page.locator(f"#user-{triager.id}")
    row.get_by_text("更改角色", exact=True).first.click()
    row.get_by_label("改为", exact=True).select_option("supervisor")
    row.get_by_role("button", name="更改角色").click()
    page.wait_for_load_state()
    assert "该账户已退出登录" in page.content()
    with app.app_context():
        user = db.session.get(User, triager.id)
        assert user is not None and user.role == "supervisor"
    clean(browser_page, size)


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_triager_writes_a_canned_reply_and_reads_finding_statuses(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    make_user: Any,
    published_notice: str,
    size: dict[str, int],
) -> None:
    page = browser_page.page
    page.set_viewport_size(size)
    log_in(browser_page, app, live_server, make_user("triager"), "/staff/canned-replies")
    clean(browser_page, size)
    page.get_by_label("适用的问题").select_option(
        label=page.locator("#finding option", has_text="第13项").first.inner_text()
    )
    page.get_by_label("标题").fill("采购报告公开")
    page.get_by_label("答复内容").fill("采购项目审查情况报告已在官网公开。")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert "已保存常用答复" in page.content()
    assert page.locator(".canned-finding", has_text="采购报告公开").count() == 1
    clean(browser_page, size)


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_the_notice_list_with_finding_statuses_is_accessible(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    make_user: Any,
    published_notice: str,
    size: dict[str, int],
) -> None:
    page = browser_page.page
    page.set_viewport_size(size)
    log_in(browser_page, app, live_server, make_user("editor"), "/staff/notices/")
    page.locator(".finding-status-list summary").first.click()
    assert page.locator(".finding-status").first.is_visible()
    clean(browser_page, size)


def test_a_referral_letter_prints_on_one_page(
    app: Flask, live_server: str, browser_page: PageProbe, make_user: Any, published_notice: str
) -> None:
    import re

    from portal.intake.service import Incoming, record_submission
    from portal.notices.models import Notice
    from portal.triage import actions

    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        code = record_submission(
            Incoming(channel="web", body="小区旁的河道长期污染，请有关部门处理。", notice=notice)
        ).code
        from portal.intake.service import find_by_code

        submission = find_by_code(code)
        assert submission is not None
        actions.refer(submission, body_name="东莞市生态环境局", contact=None, note=None,
                      reason="不属于整改范围", actor="test")  # fmt: skip
        db.session.commit()
    page = browser_page.page
    page.set_viewport_size(SIZES[0])  # the A4 sheet is wider than a phone, as reply letters are
    target = f"/staff/intake/referrals/{code}"
    log_in(browser_page, app, live_server, make_user("triager"), target)
    assert "东莞市生态环境局" in page.locator(".referral-sheet").inner_text()
    clean(browser_page, SIZES[0])
    page.emulate_media(media="print")
    assert not page.locator(".letter-tools").is_visible()
    pdf = page.pdf(prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, "one A4 page"
