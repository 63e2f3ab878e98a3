"""hCaptcha: our verifier against a loopback siteverify stub, and what the form does with it."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import create_app
from portal.extensions import db as _db
from portal.intake.captcha import CaptchaResult, CaptchaSettings, verify
from portal.intake.models import Submission
from tests.fixtures.captcha import SECRET, SITEKEY, CaptchaStub
from tests.test_intake_web import BODY, Page, count_submissions, submit

TOKEN = "P1_eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.token"


def settings_for(url: str, timeout: float = 1.0) -> CaptchaSettings:
    return CaptchaSettings(sitekey=SITEKEY, secret=SECRET, verify_url=url, timeout=timeout)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("ok", CaptchaResult.OK),
        ("no", CaptchaResult.REJECTED),
        ("500", CaptchaResult.UNAVAILABLE),
        ("timeout", CaptchaResult.UNAVAILABLE),
        ("down", CaptchaResult.UNAVAILABLE),
    ],
)
def test_verify_maps_each_answer(
    captcha_stub: CaptchaStub, mode: str, expected: CaptchaResult
) -> None:
    captcha_stub.mode = mode
    started = time.monotonic()
    assert verify(settings_for(captcha_stub.url, timeout=0.5), TOKEN, "203.0.113.9") is expected
    assert time.monotonic() - started < 2.5, "the timeout bounds the wait"
    assert captcha_stub.requests[-1] == {
        "secret": SECRET,
        "response": TOKEN,
        "remoteip": "203.0.113.9",
        "sitekey": SITEKEY,
    }


def test_refused_connection_is_unavailable(captcha_stub: CaptchaStub) -> None:
    assert verify(settings_for(captcha_stub.closed_url), TOKEN, None) is CaptchaResult.UNAVAILABLE


def test_unsolved_widget_is_rejected_without_asking(captcha_stub: CaptchaStub) -> None:
    assert verify(settings_for(captcha_stub.url), "", None) is CaptchaResult.REJECTED
    assert captcha_stub.requests == []


def test_our_own_bad_secret_keeps_the_submission(
    captcha_stub: CaptchaStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misconfigured secret is not the citizen's fault: held, not refused."""
    import requests

    class Answer:
        status_code = 200

        def json(self) -> dict[str, Any]:
            return {"success": False, "error-codes": ["invalid-input-secret"]}

    monkeypatch.setattr(requests, "post", lambda *a, **k: Answer())
    assert verify(settings_for(captcha_stub.url), TOKEN, None) is CaptchaResult.UNAVAILABLE


def test_unset_keys_switch_captcha_off_with_a_warning(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                    "SQLALCHEMY_DATABASE_URI": "sqlite://"})  # fmt: skip
    assert sum("hCaptcha is OFF" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.config(HCAPTCHA_SITEKEY=None, HCAPTCHA_SECRET=None)
def test_without_keys_the_page_has_no_widget(client: FlaskClient, published_notice: str) -> None:
    response = client.get(f"/notices/{published_notice}/feedback")
    assert "h-captcha" not in response.get_data(as_text=True)
    assert "hcaptcha.com" not in response.headers["Content-Security-Policy"]


# ---------------------------------------------------------------- the form with captcha on


@pytest.fixture
def app_config(captcha_stub: CaptchaStub) -> dict[str, Any]:
    return captcha_stub.app_config(timeout=0.5)


@pytest.fixture
def url(published_notice: str) -> str:
    return f"/notices/{published_notice}/feedback"


def captcha_post(client: FlaskClient, url: str, **extra: Any) -> Any:
    return submit(client, url, {"body": BODY, "h-captcha-response": TOKEN, **extra})


def test_widget_and_csp_only_on_the_form(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert f'<div class="h-captcha" data-sitekey="{SITEKEY}"></div>' in html
    assert '<script src="https://js.hcaptcha.com/1/api.js' in html
    assert "https://js.hcaptcha.com" in response.headers["Content-Security-Policy"]
    assert "hcaptcha.com" not in client.get("/track").headers["Content-Security-Policy"]


def test_passed_captcha_is_received(
    client: FlaskClient, url: str, app: Flask, captcha_stub: CaptchaStub
) -> None:
    assert captcha_post(client, url).status_code == 303
    assert captcha_stub.requests[-1]["response"] == TOKEN
    assert _statuses(app) == [("received", None)]


def test_rejected_captcha_returns_the_form_and_stores_nothing(
    client: FlaskClient, url: str, app: Flask, captcha_stub: CaptchaStub
) -> None:
    captcha_stub.mode = "no"
    response = captcha_post(client, url)
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    assert "人机验证未通过" in page.text_by_id["captcha-error"]
    assert page.text_by_id["body"] == BODY
    assert count_submissions(app) == 0


@pytest.mark.parametrize("mode", ["500", "timeout", "down"])
def test_captcha_outage_holds_the_submission(
    client: FlaskClient, url: str, app: Flask, captcha_stub: CaptchaStub, mode: str
) -> None:
    captcha_stub.mode = mode
    assert captcha_post(client, url).status_code == 303
    assert "receipt-code" in client.get("/feedback/receipt").get_data(as_text=True)
    assert _statuses(app) == [("held", "captcha unavailable")]


def test_honeypot_spam_does_not_spend_a_captcha_call(
    client: FlaskClient, url: str, app: Flask, captcha_stub: CaptchaStub
) -> None:
    assert captcha_post(client, url, website="buy.example").status_code == 303
    assert captcha_stub.requests == []
    assert _statuses(app) == [("spam", None)]


def _statuses(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(s.status, s.hold_reason) for s in _db.session.scalars(select(Submission))]
