"""In Chromium: a citizen on a phone follows a finding anchor; an editor fixes a misread notice
with line roles in the preview and publishes it. No console errors, no axe violations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import totp_code_for
from tests.fixtures.browser import dump

pytestmark = pytest.mark.browser


def test_phone_reader_follows_a_finding_anchor(live_server, published_notice, browser_page):
    page = browser_page.page
    page.goto(f"{live_server}/notices/{published_notice}")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.locator('.toc a[href="#category-2"]').click()
    page.goto(f"{live_server}/notices/{published_notice}#finding-7")
    finding = page.locator("#finding-7")
    assert "常态化为民工作推进不够有力" in finding.inner_text()
    assert finding.evaluate("el => el.matches(':target')")
    box = finding.bounding_box()
    assert box is not None and 0 <= box["y"] < 812
    # Readable on a 375 px phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert browser_page.console_errors == []
    violations = browser_page.axe_violations()
    assert violations == [], dump(violations)


MISREAD_FINDINGS = ["惠农补贴发放审核把关不严", "农村集体“三资”监管薄弱", "项目验收流于形式"]


@pytest.mark.parametrize("width", [375, 1366])
def test_editor_fixes_a_misread_notice_with_line_roles_and_publishes_it(
    app: Any, live_server: str, browser_page: Any, make_user: Any, width: int
) -> None:
    """The importer reads this notice's findings as narrative and cannot structure it; the
    editor gives three lines the role 问题 in the preview, publishes through the confirmation,
    and the public page and its JSON show the findings with their measures."""
    from tests.test_notice_preview import MISREAD, MISREAD_FINDING_LINES
    from tests.test_staff_browser import log_in

    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    editor = make_user("editor")
    log_in(page, live_server, editor.email)
    page.wait_for_url("**/staff/login/verify")
    page.get_by_label("验证码").fill(totp_code_for(app, editor.id))
    page.get_by_role("button", name="验证").click()
    page.wait_for_url(f"{live_server}/staff/")

    page.goto(f"{live_server}/staff/notices/new")
    page.get_by_label("网址名称（slug）").fill("nyj")
    page.get_by_label("公示全文").fill(MISREAD)
    page.get_by_role("button", name="预览").click()
    assert page.locator(".flash-error").is_visible()  # cannot structure it on its own
    assert page.get_by_role("button", name="保存为草稿").count() == 0
    for line in MISREAD_FINDING_LINES:
        page.locator(f"#role-{line}").select_option(label="问题")
        assert "role-changed" in (page.locator(f"#line-{line}").get_attribute("class") or "")
    page.get_by_role("button", name="重新预览").click()
    body = page.locator(".preview-body")
    for title in MISREAD_FINDINGS:
        assert title in body.inner_text()
    assert "上线“三资”监管平台" in body.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    violations = browser_page.axe_violations()
    assert violations == [], dump(violations)

    page.get_by_role("button", name="保存为草稿").click()
    page.wait_for_url("**/staff/notices/nyj")
    page.get_by_role("button", name="发布", exact=True).click()
    assert page.locator(".confirm-findings").inner_text() == "3 个"
    assert page.locator(".confirm-measures").inner_text() == "6 条"
    violations = browser_page.axe_violations()
    assert violations == [], dump(violations)
    page.get_by_role("button", name="确认发布").click()
    page.wait_for_url("**/staff/notices/nyj")

    public = page.context.new_page()
    public.goto(f"{live_server}/notices/nyj")
    for number, title in enumerate(MISREAD_FINDINGS, start=1):
        finding = public.locator(f"#finding-{number}")
        assert title in finding.inner_text()
        assert "未更新" in finding.locator(".finding-status").inner_text()
    data = public.request.get(f"{live_server}/notices/nyj.json").json()
    findings = [f for c in data["categories"] for f in c["findings"]]
    assert [f["title"] for f in findings] == MISREAD_FINDINGS
    assert [m["text"] for m in findings[1]["measures"]] == [
        "开展农村集体资产清查",
        "上线“三资”监管平台。",
    ]
    # The unstructured preview answers 422 on purpose; Chromium logs every non-2xx page load.
    errors = [e for e in browser_page.console_errors if "status of 422" not in e]
    assert errors == []
