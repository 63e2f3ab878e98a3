"""Printed reply letters: the reply they carry and how they name the channel it came by."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.intake.service import Contact, Incoming, record_submission
from portal.notices.models import Notice
from portal.triage.models import Reply
from tests.conftest import form_post

FIRST = "第一次答复：您反映的情况已转交后勤部门核查。"
SECOND = "第二次答复：经核查，食堂浪费问题已完成整改。"


def _record(app: Flask, slug: str, **kw: Any) -> str:
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
        kw.setdefault("body", "单位食堂浪费严重，每天倒掉很多饭菜，希望尽快整改。")
        kw.setdefault("consent", True)
        return record_submission(Incoming(notice=notice, **kw)).code


def _reply(client: FlaskClient, code: str, body: str) -> None:
    url = f"/staff/submissions/{code}/reply"
    assert form_post(client, url, {"body": body}).status_code == 303


def _letter_page(client: FlaskClient, url: str) -> str:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_letter_for_an_older_reply_prints_that_reply(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    code = _record(
        app,
        published_notice,
        channel="letter",
        contact=Contact(name="李明", address="523000 东莞市南城区某路1号"),
    )
    client = staff_login("triager")
    _reply(client, code, FIRST)
    _reply(client, code, SECOND)
    with app.app_context():
        first_id, second_id = db.session.scalars(select(Reply.id).order_by(Reply.id)).all()

    older = _letter_page(client, f"/staff/submissions/{code}/replies/{first_id}/letter")
    assert FIRST in older and SECOND not in older
    newer = _letter_page(client, f"/staff/submissions/{code}/replies/{second_id}/letter")
    assert SECOND in newer and FIRST not in newer
    # Printing again after clearing the text keeps to the chosen reply.
    again = form_post(
        client,
        f"/staff/intake/letters/{code}",
        {"reply": "", "reply_id": str(first_id), "reason": "邮寄答复"},
        form_url=f"/staff/intake/letters/{code}?reply_id={first_id}",
    ).get_data(as_text=True)
    assert FIRST in again and SECOND not in again


def test_an_email_submissions_letter_says_it_came_by_email(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    code = _record(
        app,
        published_notice,
        channel="email",
        sender_email="li.ming@example.com",
        contact=Contact(name="李明", email="li.ming@example.com", address="东莞市南城区某路1号"),
    )
    client = staff_login("triager")
    for url in (f"/staff/intake/letters/{code}", f"/staff/intake/letters/{code}?lang=en"):
        page = _letter_page(client, url)
        # The letter is an official Chinese document whatever language the staff page is in.
        assert "通过电子邮件提出的意见已收悉" in page, url
        assert "通过网上" not in page, url
