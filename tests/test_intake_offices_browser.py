"""A triager of two offices, on a phone, picks the office and its notice without any script,
logs a call for it, and the receipt names that office."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from tests.fixtures.browser import PageProbe, dump
from tests.fixtures.intake import TwoOffices
from tests.test_intake_staff_browser import log_in

pytestmark = pytest.mark.browser


def fits(probe: PageProbe) -> bool:
    return bool(probe.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_triager_of_two_offices_logs_a_call_for_the_chosen_one(
    app: Flask,
    live_server: str,
    browser_page: PageProbe,
    make_user: Any,
    two_offices: TwoOffices,
) -> None:
    page = browser_page.page
    user = make_user("triager", offices=[two_offices.a_slug, two_offices.b_slug])
    log_in(browser_page, app, live_server, user)
    assert page.locator("#notice-switch optgroup").count() == 2  # every office's notices
    assert fits(browser_page)

    page.select_option("#office-switch", str(two_offices.b))
    page.get_by_role("button", name="切换").click()
    page.wait_for_load_state()
    titles = page.locator("#notice-switch option").all_inner_texts()
    assert titles == [
        "（所选单位最新的公示）",
        "乙区卫生健康局巡察整改情况公示",  # B's only: A's notice is not offered
        "（不针对具体公示）",
    ]
    assert page.locator("#notice-switch option:checked").inner_text() == titles[1]
    assert page.input_value("#office") == str(two_offices.b)  # the form follows the switch

    page.check("#channel-phone")
    page.fill("#called_at", "2024-03-06T15:30")  # a call needs its time only, not a date too
    page.fill("#body", "来电反映卫生院药品价格偏高，希望公开采购明细。")
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    assert fits(browser_page)
    page.get_by_role("button", name="登记并生成回执").click()

    page.wait_for_url("**/staff/intake/receipt")
    assert two_offices.b_name in page.inner_text(".office-fact")
    code = page.inner_text("#receipt-code").strip()
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.code == code))
        assert submission is not None
        assert (submission.office_id, submission.notice_id) == (
            two_offices.b,
            two_offices.b_notice_id,
        )
    assert browser_page.console_errors == []
