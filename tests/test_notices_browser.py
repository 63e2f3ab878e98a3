"""A citizen on a phone opens the notice, follows a finding anchor; no errors, accessible."""

from __future__ import annotations

import pytest

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
