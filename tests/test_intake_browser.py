"""A citizen on a phone (375x812) fills the form, attaches a photo, submits, keeps the receipt."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.browser import PageProbe, dump
from tests.test_intake_web import BODY, PNG_1PX

pytestmark = pytest.mark.browser

CODE = r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$"


def test_phone_user_submits_and_sees_the_receipt(
    browser_page: PageProbe, live_server: str, published_notice: str
) -> None:
    page = browser_page.page
    page.goto(f"{live_server}/notices/{published_notice}/feedback?finding=13")
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())

    page.fill("#body", BODY)
    assert re.search(r"已输入 \d+ / 5000 字", page.inner_text("#body-counter"))
    assert page.is_checked("#finding-13"), "the finding the citizen came from is preselected"
    assert (
        page.locator("#finding-13").bounding_box()["y"] < page.locator("#body").bounding_box()["y"]
    ), "and shown first, above the text box (issue #17)"
    page.locator("#findings summary").click()  # the other findings: folded away until asked
    page.check("#finding-2")
    page.check("#anonymous")
    page.set_input_files(
        "#attachments", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG_1PX}]
    )
    assert "现场.png" in page.inner_text("#attachments-list")
    page.click("button[type=submit]")

    page.wait_for_url("**/feedback/receipt")
    code = page.inner_text("#receipt-code").strip()
    assert re.match(CODE, code), code
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", page.inner_text("#receipt-secret").strip())
    assert page.is_visible("button[data-copy-text]") or not page.evaluate("!!navigator.clipboard")
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    assert browser_page.console_errors == []

    page.reload()
    assert code not in page.content(), "the secret and code are shown once"


def test_errors_are_announced_beside_the_fields(
    browser_page: PageProbe, live_server: str, published_notice: str
) -> None:
    page = browser_page.page
    page.goto(f"{live_server}/notices/{published_notice}/feedback")
    page.fill("#body", "太短")
    page.fill("#contact_phone", "123")
    page.click("button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert "至少10个字" in page.inner_text("#body-error")
    assert page.get_attribute("#contact_phone", "aria-invalid") == "true"
    assert page.input_value("#body") == "太短", "what was typed comes back"
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    # The re-shown form answers 422 on purpose; Chromium logs that status, nothing else may fail.
    others = [e for e in browser_page.console_errors if "status of 422" not in e]
    assert others == []
