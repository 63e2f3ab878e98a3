"""The citizen's side after the form (issue #17): found from every page, the language sticks,
nothing typed is lost, the form names its finding, papers carry what is needed to track, and
no poster or mail sends people to 127.0.0.1."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.audit import Event
from portal.extensions import db as _db
from portal.intake.models import Submission
from portal.notices.models import Notice
from portal.outbox.models import OutboxMessage
from tests.conftest import csrf_token_from, form_post

BODY = "建议公开采购项目审查情况报告，接受群众监督，避免走过场。"
CJK = re.compile(r"[\u3400-\u9fff]")
EN_DATE = re.compile(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b")
REAL_URL = "https://jc.example.gov.cn"


@pytest.fixture
def url(published_notice: str) -> str:
    return f"/notices/{published_notice}/feedback"


def submissions(app: Flask) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(Submission.id))) or 0


def textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return match.group(1)


def secret_from(html: str) -> str:
    match = re.search(r'id="receipt-secret">([\d ]+)<', html)
    assert match, html[:1500]
    return match.group(1).replace(" ", "")


def code_from(html: str) -> str:
    match = re.search(r'id="receipt-code">([0-9A-Z]{5}-[0-9A-Z]{5})<', html)
    assert match, html[:1500]
    return match.group(1)


def grab(pattern: str, text: str, flags: int = 0) -> str:
    match = re.search(pattern, text, flags)
    assert match, f"{pattern!r} not found in {text[:300]!r}"
    return match.group(1)


def track_opens(app: Flask, code: str, secret: str) -> bool:
    response = form_post(app.test_client(), "/track", {"code": code, "secret": secret})
    return response.status_code == 303


# --- found from every page ---------------------------------------------------------------------


def test_track_link_in_header_footer_and_on_the_notice_page(
    client: FlaskClient, published_notice: str
) -> None:
    for path in ("/", f"/notices/{published_notice}", f"/notices/{published_notice}/feedback"):
        html = client.get(path).get_data(as_text=True)
        header = html.split('<header class="site-header">')[1].split("</header>")[0]
        footer = html.split('<footer class="site-footer">')[1].split("</footer>")[0]
        assert 'href="/track"' in header, path
        assert 'href="/track"' in footer, path
    notice = client.get(f"/notices/{published_notice}").get_data(as_text=True)
    cta = notice.split('class="feedback-cta"')[1].split("</p>")[0]
    assert 'href="/track"' in cta and "查询办理进度" in cta


def test_staff_pages_do_not_carry_the_public_track_link(staff_login: Any) -> None:
    html = staff_login("triager").get("/staff/").get_data(as_text=True)
    assert 'class="nav-track"' not in html


# --- the language sticks -----------------------------------------------------------------------


def test_lang_switch_is_remembered_for_form_errors_receipt_and_track(
    client: FlaskClient, url: str
) -> None:
    first = client.get(url + "?lang=en")
    cookie = first.headers.get("Set-Cookie", "")
    assert "lang=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert '<html lang="en"' in client.get(url).get_data(as_text=True), "no ?lang= any more"
    refused = form_post(client, url, {"body": "short"})
    assert refused.status_code == 422 and '<html lang="en"' in refused.get_data(as_text=True)
    sent = form_post(client, url, {"body": BODY, "anonymous": "y"})
    assert sent.status_code == 303
    receipt = client.get("/feedback/receipt").get_data(as_text=True)
    assert '<html lang="en"' in receipt
    assert EN_DATE.search(receipt), "the reply date in the English format"
    assert '<html lang="en"' in client.get("/track").get_data(as_text=True)
    client.get("/?lang=zh")
    assert '<html lang="zh-CN"' in client.get("/track").get_data(as_text=True)


def test_cached_notice_page_follows_the_cookie(client: FlaskClient, published_notice: str) -> None:
    page = f"/notices/{published_notice}"
    client.get(page)  # cached in Chinese
    client.get(page + "?lang=en")
    assert '<html lang="en"' in client.get(page).get_data(as_text=True)


def test_receipt_dates_in_chinese_by_default(client: FlaskClient, url: str) -> None:
    assert form_post(client, url, {"body": BODY, "anonymous": "y"}).status_code == 303
    receipt = client.get("/feedback/receipt").get_data(as_text=True)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日前", receipt)
    assert not EN_DATE.search(receipt)


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "2 Feb 2024"), ("zh", "2024年2月2日"), ("en", "31 Dec 1999")]
)
def test_date_text_in_the_readers_format(app: Flask, lang: str, expected: str) -> None:
    from portal import site

    day = date(2024, 2, 2) if "2024" in expected else date(1999, 12, 31)
    with app.test_request_context(f"/?lang={lang}"):
        assert site.date_text(day) == expected


def test_page_script_has_no_words_of_its_own(app: Flask, client: FlaskClient, url: str) -> None:
    script = client.get("/static/js/intake.js").get_data(as_text=True)
    assert not CJK.search(script), "every word the script shows comes from the page"
    html = client.get(url).get_data(as_text=True)
    for attribute in ("data-counter-text", "data-msg-file-too-big", "data-msg-too-many",
                      "data-msg-total-too-big", "data-msg-refused"):  # fmt: skip
        assert f'{attribute}="' in html, attribute
    assert 'data-counter-text="已输入 {n} / {max} 字"' in html


# --- the form says which finding ---------------------------------------------------------------


def test_form_from_a_finding_link_names_it_first_and_preselected(
    client: FlaskClient, url: str, app: Flask
) -> None:
    with app.app_context():
        notice = _db.session.scalar(select(Notice))
        assert notice is not None
        finding = next(f for f in notice.findings if f.number == 13)
        title = finding.title
    html = client.get(url + "?finding=13").get_data(as_text=True)
    h1 = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert h1 and title in h1.group(1)
    box = html.index('id="finding-13"')
    assert box < html.index('name="body"'), "the finding is shown before the text box"
    assert html.count('id="finding-13"') == 1, "not listed a second time"
    assert re.search(r'id="finding-13"[^>]*checked', html)
    assert "finding=13" in grab(r'<form method="post" action="([^"]+)"', html)
    # an error keeps the heading and the choice
    again = form_post(client, url + "?finding=13", {"body": "short", "findings": ["13"]})
    assert again.status_code == 422
    page = again.get_data(as_text=True)
    assert title in grab(r"<h1>(.*?)</h1>", page, re.S)
    assert re.search(r'id="finding-13"[^>]*checked', page)


def test_plain_form_keeps_the_general_heading(client: FlaskClient, url: str) -> None:
    for query in ("", "?finding=9999", "?finding=abc"):
        html = client.get(url + query).get_data(as_text=True)
        assert "<h1>对整改工作提意见</h1>" in html, query


# --- nothing typed is lost ---------------------------------------------------------------------


def test_anonymous_toggle_is_wired_and_the_server_ignores_contact_fields(
    client: FlaskClient, url: str, app: Flask
) -> None:
    html = client.get(url).get_data(as_text=True)
    assert 'data-anonymous-toggle="contact-fields"' in html and 'id="contact-fields"' in html
    assert 'id="anonymous-note" hidden' in html
    typed = {"contact_name": "王五", "contact_email": "wang@example.com", "anonymous": "y"}
    refused = form_post(client, url, {"body": "short", **typed})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'value="王五"' in page and 'value="wang@example.com"' in page, "shown again"
    assert form_post(client, url, {"body": BODY, **typed}).status_code == 303
    with app.app_context():
        stored = _db.session.scalar(select(Submission).order_by(Submission.id.desc()))
        assert stored is not None
        assert stored.anonymous and stored.contact_name is None and stored.contact_email is None


@pytest.mark.config(MAX_CONTENT_LENGTH=1024 * 1024, FEEDBACK_OVERSIZE_READ_BYTES=4 * 1024 * 1024)
def test_a_file_over_the_request_cap_brings_the_form_back_with_the_text(
    client: FlaskClient, url: str, app: Flask
) -> None:
    import io

    typed = "这段意见很长很重要，" * 20
    data = {
        "body": typed,
        "contact_name": "赵六",
        "findings": ["13"],
        "attachments": (io.BytesIO(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)), "big.pdf"),
    }
    response = form_post(client, url, data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert textarea(html, "body") == typed
    assert 'value="赵六"' in html and re.search(r'id="finding-13"[^>]*checked', html)
    assert "上传的文件过大" in html and 'id="attachments-error"' in html
    assert submissions(app) == 0


@pytest.mark.config(MAX_CONTENT_LENGTH=1024 * 1024, FEEDBACK_OVERSIZE_READ_BYTES=2 * 1024 * 1024)
def test_beyond_the_read_cap_the_plain_413_page_answers(
    client: FlaskClient, url: str, app: Flask
) -> None:
    import io

    data = {"body": BODY, "attachments": (io.BytesIO(b"0" * (3 * 1024 * 1024)), "huge.pdf")}
    response = form_post(client, url, data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert 'name="body"' not in response.get_data(as_text=True)
    assert submissions(app) == 0


@pytest.mark.config(MAX_CONTENT_LENGTH=1024 * 1024, FEEDBACK_OVERSIZE_READ_BYTES=4 * 1024 * 1024)
def test_an_oversized_post_without_a_valid_token_records_nothing(
    client: FlaskClient, url: str, app: Flask
) -> None:
    import io

    data = {
        "body": BODY,
        "csrf_token": "forged",
        "attachments": (io.BytesIO(b"0" * (2 * 1024 * 1024)), "big.pdf"),
    }
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert textarea(response.get_data(as_text=True), "body") == BODY
    assert submissions(app) == 0


# --- the receipt: print and mail a new secret --------------------------------------------------


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL)
def test_receipt_prints_with_the_tracking_address_and_qr(client: FlaskClient, url: str) -> None:
    assert form_post(client, url, {"body": BODY, "anonymous": "y"}).status_code == 303
    html = client.get("/feedback/receipt").get_data(as_text=True)
    assert f'id="receipt-url">{REAL_URL}/track<' in html
    assert re.search(r'class="receipt-qr" src="data:image/svg\+xml', html)
    assert "data-print" in html
    assert "secret-mail" not in html, "no address given: nothing to mail"


def _submit_with_email(client: FlaskClient, url: str) -> tuple[str, str]:
    data = {"body": BODY, "contact_email": "citizen@example.com", "consent": "y"}
    assert form_post(client, url, data).status_code == 303
    html = client.get("/feedback/receipt").get_data(as_text=True)
    assert 'action="/feedback/receipt/mail"' in html
    return code_from(html), secret_from(html)


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL)
def test_a_new_secret_is_mailed_once_and_the_old_one_stops_working(
    client: FlaskClient, url: str, app: Flask
) -> None:
    code, old_secret = _submit_with_email(client, url)
    again = client.get("/feedback/receipt").get_data(as_text=True)  # shown once; offer stays
    assert 'action="/feedback/receipt/mail"' in again
    mailed = client.post("/feedback/receipt/mail", data={"csrf_token": csrf_token_from(again)})
    assert mailed.status_code == 200
    assert "c******@example.com" in mailed.get_data(as_text=True) or "@example.com" in (
        mailed.get_data(as_text=True)
    )
    with app.app_context():
        row = _db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "secret"))
        assert row is not None and row.to == "citizen@example.com"
        assert row.submission_code == code and f"{REAL_URL}/track" in row.text
        new_secret = grab(r"新的查询密码：([\d ]+)", row.text).replace(" ", "")
        events = list(
            _db.session.scalars(select(Event).where(Event.action == "receipt.secret_mailed"))
        )
        assert len(events) == 1 and events[0].details["code"] == code
    assert new_secret != old_secret
    assert track_opens(app, code, new_secret)
    assert not track_opens(app, code, old_secret)
    token = csrf_token_from(client.get("/track").get_data(as_text=True))
    second = client.post("/feedback/receipt/mail", data={"csrf_token": token})
    assert second.status_code == 409, "once only"
    with app.app_context():
        assert (
            _db.session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "secret")
            )
            == 1
        )


def test_another_browser_cannot_have_a_secret_mailed(
    client: FlaskClient, url: str, app: Flask
) -> None:
    _submit_with_email(client, url)
    stranger = app.test_client()
    token = csrf_token_from(stranger.get("/track").get_data(as_text=True))
    response = stranger.post("/feedback/receipt/mail", data={"csrf_token": token})
    assert response.status_code == 409
    with app.app_context():
        assert _db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "secret")) == 0  # fmt: skip


def test_mailing_a_secret_needs_the_form_token(client: FlaskClient, url: str) -> None:
    _submit_with_email(client, url)
    assert client.post("/feedback/receipt/mail").status_code == 400


def test_a_bot_caught_by_the_honeypot_gets_no_mail_sent_but_the_same_page(
    client: FlaskClient, url: str, app: Flask
) -> None:
    data = {"body": BODY, "contact_email": "victim@example.com", "consent": "y"}
    assert form_post(client, url, {**data, "website": "http://spam.example"}).status_code == 303
    page = client.get("/feedback/receipt").get_data(as_text=True)
    response = client.post("/feedback/receipt/mail", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 200 and "新的查询密码已发送" in response.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "secret")) == 0  # fmt: skip
