"""Offline channels can track too (issue #17): the visitor's slip, the acknowledgement for a
letter and the reply letter carry the code, the tracking address and a QR code to it, the
office and the reply deadline; the secret where it is still known. And a loopback
PUBLIC_BASE_URL never reaches paper or mail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db as _db
from portal.intake.models import Submission
from portal.outbox import enqueue
from portal.outbox.models import OutboxMessage
from portal.outbox.send import LOOPBACK_HELD, send_due
from portal.printing import is_loopback_url, loopback_links_refused
from tests.conftest import csrf_token_from, form_post

REAL_URL = "https://jc.example.gov.cn"
NEW = "/staff/intake/new"


@pytest.fixture
def triager(staff_login: Any, published_notice: str) -> FlaskClient:
    return staff_login("triager")


def register(client: FlaskClient, **overrides: Any) -> str:
    data: dict[str, Any] = {
        "channel": "visit",
        "received_on": "2024-02-20",
        "anonymous": "y",
        "body": "来访群众口头反映采购项目审查情况没有公开。",
        "received_by": "李四",
    }
    data.update(overrides)
    response = form_post(client, NEW, data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:1500]
    return client.get("/staff/intake/receipt").get_data(as_text=True)


def grab(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found"
    return match.group(1)


def slip_of(html: str) -> str:
    start = html.index('<article class="citizen-slip"')
    return html[start : html.index("</article>", start)]


def stored(app: Flask, code: str) -> Submission:
    with app.app_context():
        submission = _db.session.scalar(select(Submission).where(Submission.code == code))
        assert submission is not None
        _db.session.expunge(submission)
        return submission


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL, OFFICE_NAME="东莞市人民检察院巡察整改办公室")
def test_visitor_slip_carries_code_secret_url_qr_office_and_deadline(
    triager: FlaskClient, app: Flask
) -> None:
    html = register(triager)
    code = grab(r'id="receipt-code">([0-9A-Z-]{11})<', html)
    secret = grab(r'id="receipt-secret">([\d ]{19})<', html)
    slip = slip_of(html)
    submission = stored(app, code)
    due = submission.reply_due_on
    assert due is not None
    for text in (code, secret, f"{REAL_URL}/track", "东莞市人民检察院巡察整改办公室",
                 f"{due.year}年{due.month}月{due.day}日前", "2024年2月20日", "来访"):  # fmt: skip
        assert text in slip, text
    qr = re.search(r'<img src="(data:image/svg\+xml[^"]+)"', slip)
    assert qr, "a QR code the CSP allows (data: image)"
    assert 'lang="zh-CN"' in slip
    assert "请当场读给对方" not in slip, "staff instructions stay off the citizen's paper"
    assert " style=" not in slip and "<script" not in slip
    assert 'class="receipt-box staff-receipt no-print"' in html, "staff box not printed"


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL)
def test_qr_code_encodes_the_tracking_page_for_this_code(triager: FlaskClient) -> None:
    import segno

    html = register(triager)
    code = grab(r'id="receipt-code">([0-9A-Z-]{11})<', html)
    uri = grab(r'<img src="(data:image/svg\+xml[^"]+)"', slip_of(html))
    # No QR decoder is installed: the same symbol drawn by segno from the expected address.
    expected = segno.make(f"{REAL_URL}/track?code={code}", error="q")
    assert uri == expected.svg_data_uri(scale=6, border=2, dark="#000", light="#fff")


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL)
def test_letter_registration_prints_an_acknowledgement(triager: FlaskClient) -> None:
    html = register(
        triager,
        channel="letter",
        anonymous="",
        contact_name="张三",
        contact_postcode="523000",
        contact_address="东莞市东城区某路1号",
        consent="y",
        postmarked_on="2024-02-19",
    )
    slip = slip_of(html)
    assert "受理告知书" in slip and "通过信件反映" in slip and f"{REAL_URL}/track" in slip
    assert re.search(r"\d{4} \d{4} \d{4} \d{4}", slip), "the secret, known at this moment"


@pytest.mark.config(PUBLIC_BASE_URL=REAL_URL)
def test_reply_letter_says_how_to_track_without_the_secret(
    triager: FlaskClient, app: Flask
) -> None:
    html = register(
        triager, channel="letter", anonymous="", contact_name="张三", consent="y",
        contact_postcode="523000", contact_address="东莞市东城区某路1号",
        postmarked_on="2024-02-19",
    )  # fmt: skip
    code = grab(r'id="receipt-code">([0-9A-Z-]{11})<', html)
    secret = grab(r'id="receipt-secret">([\d ]{19})<', html)
    url = f"/staff/intake/letters/{code}"
    page = triager.get(url).get_data(as_text=True)
    printed = triager.post(url, data={"csrf_token": csrf_token_from(page), "reason": "邮寄答复"})
    letter = printed.get_data(as_text=True)
    section = letter[letter.index('class="letter-tracking"') :]
    assert f"{REAL_URL}/track" in section and code in section
    assert 'class="letter-qr" src="data:image/svg+xml' in section
    due = stored(app, code).reply_due_on
    assert due is not None
    assert f"{due.year}年{due.month}月{due.day}日" in section
    assert secret not in letter and secret.replace(" ", "") not in letter


def test_slip_warns_staff_when_the_address_is_this_machine(triager: FlaskClient) -> None:
    html = register(triager)
    assert 'id="slip-loopback"' in html


# --- the loopback address ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://127.1.2.3/track", True),
        ("http://localhost:8000/", True),
        ("http://LOCALHOST", True),
        ("http://portal.localhost", True),
        ("http://[::1]:5000/", True),
        ("https://jc.example.gov.cn", False),
        ("https://127.example.gov.cn", False),
        ("https://10.0.0.5", False),
        ("not a url", False),
        ("http://[::1", False),
    ],
)
def test_is_loopback_url(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_refusal_is_on_unless_developing_or_testing() -> None:
    assert loopback_links_refused({}) is True
    assert loopback_links_refused({"TESTING": True}) is False
    assert loopback_links_refused({"DEBUG": True}) is False
    assert loopback_links_refused({"TESTING": True, "REFUSE_LOOPBACK_LINKS": True}) is True
    assert loopback_links_refused({"REFUSE_LOOPBACK_LINKS": False}) is False


@pytest.fixture
def editor(staff_login: Any) -> Any:
    return staff_login("editor")


@pytest.mark.config(REFUSE_LOOPBACK_LINKS=True)
def test_poster_with_a_loopback_address_warns_and_refuses_to_print(
    editor: Any, published_notice: str
) -> None:
    page = editor.get(f"/staff/notices/{published_notice}/poster")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="poster-loopback"' in html and "127.0.0.1" in html
    assert "data-print" not in html, "no print button"
    assert "poster-refused" in html, "hidden from the browser's own print too"
    pdf = editor.get(f"/staff/notices/{published_notice}/poster.pdf")
    assert pdf.status_code == 409 and pdf.mimetype == "text/html"


@pytest.mark.config(REFUSE_LOOPBACK_LINKS=True, PUBLIC_BASE_URL=REAL_URL)
def test_poster_with_the_real_address_prints(editor: Any, published_notice: str) -> None:
    html = editor.get(f"/staff/notices/{published_notice}/poster").get_data(as_text=True)
    assert 'id="poster-loopback"' not in html and "data-print" in html


def _queue(app: Flask, text: str) -> int:
    with app.app_context():
        row = enqueue(to="citizen@example.com", subject="答复", text=text, kind="reply")
        _db.session.commit()
        return row.id


def _row(app: Flask, row_id: int) -> OutboxMessage:
    with app.app_context():
        row = _db.session.get(OutboxMessage, row_id)
        assert row is not None
        _db.session.expunge(row)
        return row


@pytest.mark.config(REFUSE_LOOPBACK_LINKS=True, MAIL_SERVER="127.0.0.1", MAIL_PORT=9)
def test_outbox_keeps_mail_with_a_loopback_link_queued_with_the_reason(app: Flask) -> None:
    held = _queue(app, "请访问 http://127.0.0.1:5000/track 查询。")
    plain = _queue(app, "您的意见已收到。")
    with app.app_context():
        report = send_due()
    assert report.held == 1
    row = _row(app, held)
    assert row.status == "queued" and row.attempts == 0 and row.last_error == LOOPBACK_HELD
    assert _row(app, plain).attempts == 1, "mail without such a link is still attempted"


@pytest.mark.config(REFUSE_LOOPBACK_LINKS=False, MAIL_SERVER="127.0.0.1", MAIL_PORT=9)
def test_outbox_sends_loopback_links_where_they_are_the_real_address(app: Flask) -> None:
    row_id = _queue(app, "请访问 http://127.0.0.1:5000/track 查询。")
    with app.app_context():
        assert send_due().held == 0
    assert _row(app, row_id).attempts == 1


@pytest.mark.config(REFUSE_LOOPBACK_LINKS=True, MAIL_SERVER="127.0.0.1", MAIL_PORT=9)
def test_outbox_send_command_says_why_mail_is_held(app: Flask, runner: Any) -> None:
    _queue(app, "<a href='http://localhost/track'>查询</a>")
    result = runner.invoke(args=["outbox", "send"])
    assert "held 1" in result.output and "PUBLIC_BASE_URL" in result.output


# --- outside input: addresses from configuration, languages from cookies -------------------------


@given(st.text(max_size=80))
def test_is_loopback_url_never_fails_on_any_text(text: str) -> None:
    assert is_loopback_url(text) in (True, False)
    assert is_loopback_url("https://" + text.replace("/", "")) in (True, False)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(1, 65535))
def test_every_127_address_is_loopback(a: int, b: int, c: int, port: int) -> None:
    assert is_loopback_url(f"http://127.{a}.{b}.{c}:{port}/track")
    assert not is_loopback_url(f"http://128.{a}.{b}.{c}:{port}/track")


@given(st.one_of(st.none(), st.text(max_size=20)), st.one_of(st.none(), st.text(max_size=40)))
def test_any_cookie_value_yields_a_supported_language(
    cookie: str | None, accept: str | None
) -> None:
    from portal.site import choose_lang

    assert choose_lang(None, accept, cookie) in ("en", "zh")
    assert choose_lang("zh", accept, cookie) == "zh", "the switch wins over the cookie"
    if cookie == "en":
        assert choose_lang(None, "zh-CN", cookie) == "en", "the cookie wins over the header"
