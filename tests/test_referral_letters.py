"""The printed referral letter (转办函): addressed to the body, carrying the opinion without its
submitter (numbers written into the text masked); contact details only when the submitter
agreed, with a reason, in sudo mode, audited."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.notices.models import Notice
from portal.triage.referral_letter import mask_contacts_in_text
from portal.workdays import local_today
from tests.conftest import form_post

BODY = "小区旁的河道长期污染，我的电话13800138000，身份证440101199001011234，欢迎联系。"
BODY_NAME = "东莞市生态环境局"


def _record(app: Flask, notice_slug: str, *, anonymous: bool = False) -> str:
    from portal.intake.service import Contact, Incoming, record_submission

    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == notice_slug))
        contact = None if anonymous else Contact(name="王五", phone="13900139000")
        receipt = record_submission(
            Incoming(
                channel="phone",
                body=BODY,
                notice=notice,
                contact=contact,
                anonymous=anonymous,
                consent=not anonymous,
            )
        )
        return receipt.code


def _refer(client: FlaskClient, code: str) -> None:
    detail = f"/staff/submissions/{code}"
    data = {"body_name": BODY_NAME, "note": "请依职责核查。", "reason": "不属于整改范围"}
    response = form_post(client, f"{detail}/refer", data, form_url=detail)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]


def _views(app: Flask) -> list[Event]:
    with app.app_context():
        return list(_db.session.scalars(select(Event).where(Event.action == "personal_data.view")))


@pytest.fixture
def triager(staff_login: Any) -> FlaskClient:
    return staff_login("triager")


@pytest.fixture
def referred(app: Flask, published_notice: str, triager: FlaskClient) -> str:
    code = _record(app, published_notice)
    _refer(triager, code)
    return code


def test_the_letter_names_the_body_and_the_opinion_but_not_the_submitter(
    app: Flask, triager: FlaskClient, referred: str
) -> None:
    response = triager.get(f"/staff/intake/referrals/{referred}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    sheet = html[html.index('class="letter-sheet referral-sheet"') :]
    for text in ("转办函", f"{BODY_NAME}：", referred, "请依职责核查。", "小区旁的河道长期污染",
                 "其个人信息未随本函转出"):  # fmt: skip
        assert text in sheet, text
    today = local_today()
    assert f"{today.year}年{today.month}月{today.day}日" in sheet
    assert "王五" not in html and "13900139000" not in html, "no contact details"
    assert "13800138000" not in html and "138****8000" in sheet, "numbers in the text masked"
    assert "440101199001011234" not in html and "440101********1234" in sheet
    assert _views(app) == [], "nothing personal was decrypted for show"
    detail = triager.get(f"/staff/submissions/{referred}").get_data(as_text=True)
    assert f'href="/staff/intake/referrals/{referred}"' in detail, "the detail page links it"


def test_without_a_referral_there_is_no_letter(
    app: Flask, triager: FlaskClient, published_notice: str
) -> None:
    code = _record(app, published_notice)
    assert triager.get(f"/staff/intake/referrals/{code}").status_code == 404


def test_contact_details_need_a_reason_and_are_audited(
    app: Flask, triager: FlaskClient, referred: str
) -> None:
    url = f"/staff/intake/referrals/{referred}"
    refused = form_post(triager, url, {"reason": ""}, form_url=url)
    assert refused.status_code == 422
    assert "王五" not in refused.get_data(as_text=True) and _views(app) == []
    shown = form_post(triager, url, {"reason": "环保局须当面核实"}, form_url=url)
    assert shown.status_code == 200
    sheet = shown.get_data(as_text=True).split('class="letter-sheet referral-sheet"')[1]
    assert "王五" in sheet and "13900139000" in sheet and "13800138000" in sheet
    [event] = _views(app)
    assert event.details["code"] == referred
    assert event.details["reason"] == f"转办函附反映人联系方式（转{BODY_NAME}）：环保局须当面核实"
    assert "contact_phone" in event.details["fields"]


def test_an_anonymous_submitters_details_never_go_with_the_letter(
    app: Flask, triager: FlaskClient, published_notice: str
) -> None:
    code = _record(app, published_notice, anonymous=True)
    _refer(triager, code)
    url = f"/staff/intake/referrals/{code}"
    page = triager.get(url).get_data(as_text=True)
    assert "不能随函转出" in page and 'name="reason"' not in page
    refused = form_post(triager, url, {"reason": "环保局须当面核实"}, form_url=url)
    assert refused.status_code == 409 and _views(app) == []


def test_the_letter_as_pdf(triager: FlaskClient, referred: str) -> None:
    response = triager.get(f"/staff/intake/referrals/{referred}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data()[:5] == b"%PDF-"


def test_other_roles_may_not_print_it(staff_login: Any, referred: str) -> None:
    for role in ("viewer", "editor", "supervisor"):
        client = staff_login(role)
        assert client.get(f"/staff/intake/referrals/{referred}").status_code == 403, role


@given(
    prefix=st.text(alphabet="河道污染，请联系。abc ", max_size=20),
    mobile=st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
    suffix=st.text(alphabet="河道污染，请联系。abc ", max_size=20),
)
def test_a_mobile_number_in_any_text_is_masked(prefix: str, mobile: str, suffix: str) -> None:
    masked = mask_contacts_in_text(prefix + mobile + suffix)
    assert mobile not in masked
    assert masked == prefix + mobile[:3] + "****" + mobile[-4:] + suffix


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"], blacklist_characters="@")))
def test_text_without_digits_or_addresses_is_unchanged(text: str) -> None:
    assert mask_contacts_in_text(text) == text
