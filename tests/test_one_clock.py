"""One clock (issue 18): every time on the triager's pages is Beijing time, in one format.

The moments are chosen late in the UTC evening, so Beijing time is already the next day: a
page still writing UTC would show the wrong date for an official record.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.triage.models import Reply, StatusChange

RECEIVED = datetime(2024, 2, 1, 17, 30, tzinfo=UTC)  # Beijing: 2024-02-02 01:30
REPLIED = datetime(2024, 2, 3, 16, 10, tzinfo=UTC)  # Beijing: 2024-02-04 00:10
TRIAGED = datetime(2024, 2, 2, 23, 45, tzinfo=UTC)  # Beijing: 2024-02-03 07:45
UTC_LOOKING = re.compile(r"\+00:?00|\bUTC\b|\bGMT\b|\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z")


def utc_times(html: str) -> list[str]:
    """Every UTC-looking time in a page, attributes included."""
    return UTC_LOOKING.findall(html)


@pytest.fixture
def case(app: Flask, make_user: Any) -> tuple[str, Any]:
    from portal.intake.service import Contact, Incoming, record_submission
    from portal.staff.models import User
    from portal.triage.replies import send_reply
    from portal.triage.workflow import change_status

    author = make_user("triager")
    with app.app_context():
        receipt = record_submission(
            Incoming(
                notice=None,
                channel="email",
                body="单位公车私用，周末停在饭店门口。",
                consent=True,
                contact=Contact(name="李明", email="li@example.com"),
                received_at=RECEIVED,
            )
        )
        row = db.session.get(Submission, receipt.submission_id)
        assert row is not None
        change_status(row, "triaged", actor=db.session.get_one(User, author.id).actor)
        send_reply(row, body="已核实并整改。", actor_user=db.session.get_one(User, author.id))
        db.session.commit()
        for change in db.session.scalars(select(StatusChange)):
            change.at = TRIAGED if change.new == "triaged" else REPLIED
        for reply in db.session.scalars(select(Reply)):
            reply.created_at = REPLIED
        db.session.commit()
        return receipt.code, author


def test_the_detail_page_shows_every_moment_in_beijing_time(
    app: Flask, staff_login: Any, case: tuple[str, Any]
) -> None:
    code, author = case
    html = staff_login(user=author).get(f"/staff/submissions/{code}").get_data(as_text=True)
    for beijing in ("2024-02-02 01:30", "2024-02-04 00:10", "2024-02-03 07:45"):
        assert beijing in html, beijing
    for utc in ("2024-02-01 17:30", "2024-02-03 16:10", "2024-02-02 23:45"):
        assert utc not in html, utc
    assert utc_times(html) == []
    # The reply panel and the history say the reply's time the same way.
    panel = html[html.index('id="reply"') : html.index('id="history"')]
    history = html[html.index('id="history"') :]
    assert "2024-02-04 00:10" in panel and "2024-02-04 00:10" in history


def test_the_queue_and_the_reply_page_use_the_same_clock(
    app: Flask, staff_login: Any, case: tuple[str, Any]
) -> None:
    code, author = case
    client = staff_login(user=author)
    queue = client.get("/staff/queue").get_data(as_text=True)
    assert "2024-02-02 01:30" in queue and "2024-02-01" not in queue
    assert utc_times(queue) == []
    compose = client.get(f"/staff/submissions/{code}/reply").get_data(as_text=True)
    assert "2024-02-02 01:30" in compose and utc_times(compose) == []
    assert utc_times(client.get("/staff/").get_data(as_text=True)) == []


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scanner itself: each form a UTC time takes is caught, Beijing time is not."""
    assert utc_times("2024-02-01T17:30:00Z") and utc_times("17:30:00+00:00")
    assert utc_times("17:30 UTC") and utc_times("2024-02-01T17:30:00.123456Z")
    assert utc_times("2024-02-02 01:30 · 2024-02-02T01:30:00+08:00") == []
