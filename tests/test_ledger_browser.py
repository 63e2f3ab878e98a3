"""The dashboard in Chromium at 375x812 and 1366x900 (issue #18): no label cut at a chart's
edge (measured by the browser: getBBox of each text against its chart's viewBox), no sideways
scroll on a phone, no serious axe finding, and a bar opens the queue it counts."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import STAFF_PASSWORD, totp_code_for
from tests.fixtures.browser import PageProbe, dump
from tests.test_export import Dataset, ledger_dataset

pytestmark = pytest.mark.browser

# Every visible chart's texts that leave its viewBox (with half a pixel of slack).
CLIPPED = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('.chart svg')) {
    if (!svg.getBoundingClientRect().width) continue;  // the other size's chart: hidden
    const box = svg.viewBox.baseVal;
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      if (b.x < -0.5 || b.x + b.width > box.width + 0.5) out.push(t.textContent);
    }
  }
  return out;
}"""


def _log_in(probe: PageProbe, app: Flask, base: str, user: Any) -> None:
    page = probe.page
    page.goto(f"{base}/staff/dashboard")
    page.get_by_label("邮箱").fill(user.email)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    if "/staff/login/verify" in page.url:
        page.get_by_label("验证码").fill(totp_code_for(app, user.id))
        page.get_by_role("button", name="验证").click()
    page.wait_for_url("**/staff/dashboard")


@pytest.mark.parametrize("viewport", [(375, 812), (1366, 900)])
def test_dashboard_charts_fit_and_click_through(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    make_user: Any,
    published_notice: str,
    viewport: tuple[int, int],
) -> None:
    from portal.extensions import db
    from portal.notices.models import Finding

    data: Dataset = ledger_dataset(app, published_notice, make_user("triager"))
    with app.app_context():
        # A long finding title: the label that used to be cut at the chart's left edge.
        finding = db.session.scalar(db.select(Finding).where(Finding.number == 1))
        finding.title = "对群众反映强烈的食堂浪费问题整改不彻底、公务用车管理不规范等问题整改不到位"
        db.session.commit()
    page = browser_page.page
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    _log_in(browser_page, app, live_server, make_user("viewer"))
    assert page.evaluate(CLIPPED) == []
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= viewport[0], scroll  # nothing scrolls sideways
    charts = page.locator(".chart svg:visible")
    assert charts.count() == 4
    violations = browser_page.axe_violations()
    assert violations == [], dump(violations)
    assert browser_page.console_errors == []

    page.locator('.chart svg:visible a[aria-label="信件: 1"]').click()
    page.wait_for_url("**/staff/queue?**")
    assert "channel=letter" in page.url
    assert data.codes["G"] in page.content() and data.codes["A"] not in page.content()
