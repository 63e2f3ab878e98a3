"""Issue #17 in Chromium, on a phone (375x812) and a desktop (1366x900), in Chinese and English,
with axe (no serious or critical violation): the language sticks from the form to the receipt
and /track; a 30 MB file keeps the typed text (in the page, and with script off, on the server);
anonymous switches the contact fields off without emptying them; a visitor's printed slip
carries code, secret, address and QR code."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.conftest import STAFF_PASSWORD, totp_code_for
from tests.fixtures.browser import PageProbe, dump
from tests.test_intake_web import BODY

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": (375, 812), "desktop": (1366, 900)}
THIRTY_MB = 30 * 1024 * 1024
REAL_URL = "https://jc.example.gov.cn"


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> tuple[int, int]:
    return VIEWPORTS[request.param]


def probe_for(chromium: Any, viewport: tuple[int, int], **options: Any) -> tuple[Any, PageProbe]:
    width, height = viewport
    context = chromium.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", **options
    )
    return context, PageProbe(context.new_page())


def no_serious_violations(probe: PageProbe, where: str) -> None:
    violations = probe.axe_violations()
    assert violations == [], f"{where}: {dump(violations)}"


def html_lang(page: Any) -> str:
    return str(page.evaluate("document.documentElement.lang"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_language_sticks_from_form_to_receipt_to_track(
    chromium: Any, live_server: str, published_notice: str, viewport: tuple[int, int], lang: str
) -> None:
    expected = "en" if lang == "en" else "zh-CN"
    context, probe = probe_for(chromium, viewport)
    page = probe.page
    try:
        page.goto(f"{live_server}/notices/{published_notice}")
        switch = "English" if lang == "en" else None
        if switch:
            page.get_by_role("link", name=switch).click()  # the header's language switch
            page.wait_for_load_state()
        assert html_lang(page) == expected
        page.goto(f"{live_server}/notices/{published_notice}/feedback")  # no ?lang= any more
        assert html_lang(page) == expected
        no_serious_violations(probe, "form")
        page.fill("#body", "short")
        page.click("button[type=submit]")
        page.wait_for_selector("#error-summary")
        assert html_lang(page) == expected, "the errors in the chosen language"
        page.fill("#body", BODY)
        page.check("#anonymous")
        page.click("button[type=submit]")
        page.wait_for_url("**/feedback/receipt")
        assert html_lang(page) == expected
        text = page.inner_text("main")
        if lang == "en":
            assert re.search(
                r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}", text
            )
        else:
            assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)
        assert page.is_visible("#receipt-url") and page.is_visible("img.receipt-qr")
        no_serious_violations(probe, "receipt")
        page.locator("header .nav-track").click()
        page.wait_for_url("**/track")
        assert html_lang(page) == expected
        no_serious_violations(probe, "track")
        others = [e for e in probe.console_errors if "status of 422" not in e]
        assert others == []
    finally:
        context.close()


def test_a_30mb_file_is_refused_in_the_page_and_the_text_stays(
    chromium: Any, live_server: str, published_notice: str, viewport: tuple[int, int]
) -> None:
    context, probe = probe_for(chromium, viewport)
    page = probe.page
    try:
        url = f"{live_server}/notices/{published_notice}/feedback"
        page.goto(url)
        page.fill("#body", BODY)
        page.fill("#contact_name", "赵六")
        big = {"name": "录像.pdf", "mimeType": "application/pdf", "buffer": b"0" * THIRTY_MB}
        page.set_input_files("#attachments", files=[big])
        assert "超过单个文件大小上限" in page.inner_text("#attachments-list")
        page.click("button[type=submit]")
        page.wait_for_selector("#attachments-refused:not([hidden])")
        assert "尚未提交" in page.inner_text("#attachments-refused")
        assert page.url == url, "nothing was sent"
        assert page.input_value("#body") == BODY and page.input_value("#contact_name") == "赵六"
        assert not page.is_disabled("button[type=submit]"), "the citizen can send it again"
        no_serious_violations(probe, "refused in the page")
    finally:
        context.close()


def test_without_script_the_server_brings_the_form_back_with_the_text(
    chromium: Any, live_server: str, published_notice: str
) -> None:
    # One viewport: the server's answer does not depend on the screen (30 MB travel each run).
    context, probe = probe_for(chromium, VIEWPORTS["phone"], java_script_enabled=False)
    page = probe.page
    try:
        page.goto(f"{live_server}/notices/{published_notice}/feedback?finding=13")
        page.fill("#body", BODY)
        big = {"name": "录像.pdf", "mimeType": "application/pdf", "buffer": b"0" * THIRTY_MB}
        page.set_input_files("#attachments", files=[big])
        page.click("button[type=submit]")
        page.wait_for_selector("#attachments-error")
        assert page.input_value("#body") == BODY
        assert page.is_checked("#finding-13")
        assert "上传的文件过大" in page.inner_text("#attachments-error")
    finally:
        context.close()


def test_anonymous_switches_the_contact_fields_off_without_emptying_them(
    browser_page: PageProbe, live_server: str, published_notice: str
) -> None:
    page = browser_page.page
    page.goto(f"{live_server}/notices/{published_notice}/feedback")
    page.fill("#contact_name", "王五")
    page.fill("#contact_email", "wang@example.com")
    background = "getComputedStyle(document.getElementById('contact_name')).backgroundColor"
    enabled_colour = page.evaluate(background)
    page.check("#anonymous")
    assert page.is_disabled("#contact_name") and page.is_disabled("#contact_email")
    assert page.is_visible("#anonymous-note")
    assert page.evaluate(background) != enabled_colour, "greyed out"
    no_serious_violations(browser_page, "anonymous")
    page.uncheck("#anonymous")
    assert page.is_enabled("#contact_name") and page.input_value("#contact_name") == "王五"
    assert not page.is_visible("#anonymous-note")


def log_in(probe: PageProbe, app: Flask, base: str, user: Any) -> None:
    page = probe.page
    page.goto(f"{base}/staff/intake/new")
    page.get_by_label("邮箱").fill(user.email)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    if "/staff/login/verify" in page.url:
        page.get_by_label("验证码").fill(totp_code_for(app, user.id))
        page.get_by_role("button", name="验证").click()
    page.wait_for_url("**/staff/intake/new")


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL)
def test_a_visitors_printed_slip_carries_code_secret_url_and_qr(
    app: Flask,
    chromium: Any,
    live_server: str,
    make_user: Any,
    published_notice: str,
    viewport: tuple[int, int],
) -> None:
    context, probe = probe_for(chromium, viewport)
    page = probe.page
    try:
        log_in(probe, app, live_server, make_user("triager"))
        page.check("#channel-visit")
        page.check("#anonymous")
        page.fill("#body", "来访群众反映采购项目审查情况报告没有公开。")
        page.get_by_role("button", name="登记并生成回执").click()
        page.wait_for_load_state()
        assert "/staff/intake/receipt" in page.url, page.inner_text("main")[:1500]
        code = page.inner_text("#receipt-code").strip()
        secret = page.inner_text("#receipt-secret").strip()
        no_serious_violations(probe, "staff receipt")
        page.emulate_media(media="print")
        assert not page.is_visible(".staff-receipt"), "staff instructions are not printed"
        slip = page.locator("#citizen-slip")
        assert slip.is_visible()
        printed = slip.inner_text()
        for text in (code, secret, f"{REAL_URL}/track", "答复期限"):
            assert text in printed, text
        qr = slip.locator(".slip-qr img")
        assert qr.is_visible()
        assert page.evaluate("(img) => img.naturalWidth > 0", qr.element_handle()), "QR drawn"
        assert probe.console_errors == []
    finally:
        context.close()
