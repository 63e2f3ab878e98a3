"""Issue #19 item 16: refused requests leave a trace (403, CSRF failure, 429), without personal
data, and a flood of them cannot flood the audit chain."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from tests.conftest import form_post

PLANTED = "申诉人赵小棠13912345678"


def denied_events(app: Flask) -> list[audit.Event]:
    with app.app_context():
        found = db.session.scalars(
            select(audit.Event)
            .where(audit.Event.action == "access.denied")
            .order_by(audit.Event.seq)
        ).all()
        db.session.expunge_all()
        return list(found)


def test_a_403_is_recorded_with_who_and_which_route(app: Flask, staff_login: Any) -> None:
    viewer = staff_login("viewer")
    response = viewer.get("/staff/audit/?actor=someone@staff.test")
    assert response.status_code == 403
    [event] = denied_events(app)
    assert event.details == {
        "reason": "forbidden",
        "status": 403,
        "method": "GET",
        "route": "/staff/audit/",
    }
    assert event.actor.startswith(f"user:{viewer.user.id}:")
    assert "someone@staff.test" not in json.dumps(event.details)  # no query string
    with app.app_context():
        assert audit.verify().ok


def test_a_csrf_failure_is_recorded_and_what_was_typed_is_not(
    app: Flask, published_notice: str
) -> None:
    client = app.test_client()
    url = f"/notices/{published_notice}/feedback"
    client.get(url)
    response = client.post(url, data={"body": PLANTED * 3, "csrf_token": "forged"})
    assert response.status_code == 400
    [event] = denied_events(app)
    assert event.details["reason"] == "csrf"
    assert event.details["route"] == "/notices/<slug>/feedback"
    assert event.actor == "public" and event.ip is None  # no citizen's IP either
    assert PLANTED not in json.dumps(event.details, ensure_ascii=False)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_TRACK="2/minute")
def test_a_429_is_recorded(app: Flask) -> None:
    client = app.test_client()
    codes = [
        form_post(client, "/track", {"code": "00000-00000", "secret": "1" * 16}).status_code
        for _ in range(3)
    ]
    assert codes[-1] == 429
    [event] = denied_events(app)
    assert event.details["reason"] == "rate_limited" and event.details["status"] == 429


@pytest.mark.config(AUDIT_DENIED_PER_MINUTE=3)
def test_recording_refusals_is_itself_limited(
    app: Flask, staff_login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = staff_login("viewer")
    now = [1000.0 * 60]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    for _ in range(7):
        assert viewer.get("/staff/audit/").status_code == 403
    assert len(denied_events(app)) == 3  # the rest of this minute's refusals are only counted
    now[0] += 60
    assert viewer.get("/staff/audit/").status_code == 403
    events = denied_events(app)
    assert len(events) == 4
    assert events[-1].details["not_recorded_before"] == 4


def test_an_ordinary_400_or_404_is_not_a_denial(app: Flask, published_notice: str) -> None:
    client = app.test_client()
    assert client.get("/notices/no-such-notice").status_code == 404
    assert client.get("/staff/audit/?before=x").status_code in (302, 303)  # to the login page
    assert denied_events(app) == []
