"""Intake with several offices: staff record letters, calls and visits for their own office (or
choose among theirs; the inspection office may leave one unrouted), bulk files go to one office,
and citizens see which office their opinion goes to."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db
from portal.intake.models import Attachment, Submission
from portal.outbox.models import OutboxMessage
from tests.conftest import form_post
from tests.fixtures.intake import TwoOffices, gen_csv, gen_pdf

NEW = "/staff/intake/new"
BULK = "/staff/intake/bulk"
A_TITLE = "甲区教育局巡察整改情况公示"
B_TITLE = "乙区卫生健康局巡察整改情况公示"
TYPED = "来信反映卫生院药品采购价格偏高，希望公开采购明细。"


def letter(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "letter",
        "received_on": "2024-03-06",
        "contact_name": "张三",
        "contact_address": "东莞市东城区某路1号",
        "consent": "y",
        "subject": "关于采购",
        "body": TYPED,
        "findings": ["13"],
    }
    data.update(overrides)
    return data


def post_new(client: FlaskClient, data: dict[str, Any]) -> Any:
    return form_post(client, NEW, data, content_type="multipart/form-data")


def submissions(app: Flask) -> list[tuple[int | None, int | None]]:
    """(office_id, notice_id) of every submission, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            select(Submission.office_id, Submission.notice_id).order_by(Submission.id)
        )
        return [(r.office_id, r.notice_id) for r in rows]


def count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Submission.id))) or 0)


@pytest.fixture
def triager_a(staff_login: Any, make_user: Any, two_offices: TwoOffices) -> FlaskClient:
    return staff_login(user=make_user("triager", offices=[two_offices.a_slug]))


@pytest.fixture
def triager_ab(staff_login: Any, make_user: Any, two_offices: TwoOffices) -> FlaskClient:
    return staff_login(user=make_user("triager", offices=[two_offices.a_slug, two_offices.b_slug]))


@pytest.fixture
def supervisor(staff_login: Any, two_offices: TwoOffices) -> FlaskClient:
    return staff_login("supervisor")


# --- one item --------------------------------------------------------------------------------


def test_a_triager_of_one_office_records_for_it_without_a_choice(
    triager_a: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    page = triager_a.get(NEW).get_data(as_text=True)
    assert 'name="office"' not in page  # nothing to choose
    assert f"登记到：<strong>{two_offices.a_name}</strong>" in page
    assert A_TITLE in page and B_TITLE not in page
    response = post_new(triager_a, letter())
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert submissions(app) == [(two_offices.a, two_offices.a_notice_id)]
    receipt = triager_a.get("/staff/intake/receipt").get_data(as_text=True)
    assert two_offices.a_name in receipt


def test_a_triager_cannot_record_for_another_office(
    triager_a: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    assert triager_a.get(f"{NEW}?notice={two_offices.b_notice}").status_code == 404
    refused = post_new(triager_a, letter(office=str(two_offices.b), notice=two_offices.b_notice))
    assert refused.status_code == 404 and count(app) == 0
    # A forged office value is ignored: the item goes to the triager's own office.
    response = post_new(triager_a, letter(office=str(two_offices.b), notice="none", findings=[]))
    assert response.status_code == 303
    assert submissions(app) == [(two_offices.a, None)]


def test_a_triager_of_several_offices_must_choose_one(
    triager_ab: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    page = triager_ab.get(NEW).get_data(as_text=True)
    # No office chosen yet: every office's notices, grouped under their office (no script).
    assert f'<optgroup label="{two_offices.a_name}">' in page
    assert f'<optgroup label="{two_offices.b_name}">' in page
    assert re.search(r'<select id="office" name="office" required', page)

    missing = post_new(triager_ab, letter(notice="none", findings=[]))
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "请选择登记到哪个单位" in html
    assert TYPED in html and count(app) == 0  # nothing typed is lost

    chosen = post_new(triager_ab, letter(office=str(two_offices.b), notice=two_offices.b_notice))
    assert chosen.status_code == 303, chosen.get_data(as_text=True)[:2000]
    assert submissions(app) == [(two_offices.b, two_offices.b_notice_id)]


def test_a_notice_of_another_office_is_refused_keeping_what_was_typed(
    triager_ab: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    response = post_new(
        triager_ab,
        letter(office=str(two_offices.a), notice=two_offices.b_notice, contact_name="李四"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"所选公示属于{two_offices.b_name}" in html
    assert TYPED in html and 'value="李四"' in html and 'value="关于采购"' in html
    assert count(app) == 0


def test_choosing_an_office_lists_only_its_notices(
    triager_ab: FlaskClient, two_offices: TwoOffices
) -> None:
    page = triager_ab.get(f"{NEW}?office={two_offices.b}").get_data(as_text=True)
    assert B_TITLE in page and A_TITLE not in page
    assert f'<option value="{two_offices.b}" selected>{two_offices.b_name}</option>' in page
    # Choosing a notice chooses its office.
    page = triager_ab.get(f"{NEW}?notice={two_offices.a_notice}").get_data(as_text=True)
    assert f'<option value="{two_offices.a}" selected>{two_offices.a_name}</option>' in page


def test_the_supervisor_records_for_an_office_or_leaves_it_unrouted(
    supervisor: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    page = supervisor.get(NEW).get_data(as_text=True)
    assert '<option value="unrouted"' in page and "待分派" in page
    to_b = post_new(supervisor, letter(office=str(two_offices.b), notice=two_offices.b_notice))
    assert to_b.status_code == 303, to_b.get_data(as_text=True)[:2000]

    with_notice = post_new(supervisor, letter(office="unrouted", notice=two_offices.a_notice))
    assert with_notice.status_code == 422
    assert "待分派的意见不针对具体公示" in with_notice.get_data(as_text=True)

    unrouted = post_new(supervisor, letter(office="unrouted", notice="none", findings=[]))
    assert unrouted.status_code == 303
    assert "待分派" in supervisor.get("/staff/intake/receipt").get_data(as_text=True)
    assert submissions(app) == [(two_offices.b, two_offices.b_notice_id), (None, None)]


def test_a_scan_of_another_office_is_not_found(
    triager_ab: FlaskClient, triager_a: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    scan = (io.BytesIO(gen_pdf("scan")), "信件扫描.pdf")
    response = post_new(
        triager_ab,
        letter(office=str(two_offices.b), notice=two_offices.b_notice, attachments=[scan]),
    )
    assert response.status_code == 303
    with app.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))
    url = f"/staff/intake/attachments/{attachment_id}"
    assert triager_ab.get(url).status_code == 200
    assert triager_a.get(url).status_code == 404


# --- a bulk file -----------------------------------------------------------------------------

HEADER = ["渠道", "收到日期", "内容", "公示", "涉及问题"]


def upload(client: FlaskClient, rows: list[list[str]], **fields: str) -> Any:
    data = gen_csv([HEADER, *rows], "utf-8-sig")
    payload: dict[str, Any] = {"file": (io.BytesIO(data), "day.csv"), **fields}
    return form_post(client, BULK, payload, content_type="multipart/form-data")


def confirm(client: FlaskClient, preview_html: str) -> Any:
    fields = dict(
        re.findall(r'name="(office|notice|filename|token|csrf_token)"[^>]*value="([^"]*)"',
                   preview_html)
    )  # fmt: skip
    return client.post(f"{BULK}/confirm", data=fields)


def test_a_bulk_row_naming_another_office_s_notice_is_refused_by_row(
    triager_ab: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    rows = [
        ["信件", "2024-03-05", "第一封：学校食堂问题。", two_offices.a_notice, "13"],
        ["信件", "2024-03-05", "第二封：卫生院问题。", two_offices.b_notice, "13"],
        ["意见箱", "2024-03-04", "第三件：未写公示。", "", ""],
    ]
    preview = upload(triager_ab, rows, office=str(two_offices.a), notice=two_offices.a_notice)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 422
    errors = re.findall(r'class="row-error" data-row="(\d+)" data-column="([^"]*)">([^<]*)<', html)
    assert [(row, column) for row, column, _text in errors] == [("3", "公示")]
    assert two_offices.b_name in errors[0][2]
    assert count(app) == 0


def test_a_bulk_file_goes_to_the_chosen_office(
    triager_ab: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    rows = [
        ["信件", "2024-03-05", "第一封：卫生院问题。", "", "13"],
        ["电话", "2024-03-05", "来电：医院挂号难。", two_offices.b_notice, ""],
    ]
    missing = upload(triager_ab, rows, notice=two_offices.b_notice)
    assert missing.status_code == 422
    assert "请选择登记到哪个单位" in missing.get_data(as_text=True)

    preview = upload(triager_ab, rows, office=str(two_offices.b), notice=two_offices.b_notice)
    assert preview.status_code == 200, preview.get_data(as_text=True)[:3000]
    done = confirm(triager_ab, preview.get_data(as_text=True))
    assert done.status_code == 200 and two_offices.b_name in done.get_data(as_text=True)
    assert submissions(app) == [(two_offices.b, two_offices.b_notice_id)] * 2


def test_the_supervisor_imports_a_file_left_unrouted(
    supervisor: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    named = upload(
        supervisor,
        [["信件", "2024-03-05", "来信：有公示。", two_offices.a_notice, ""]],
        office="unrouted",
        notice="none",
    )
    assert named.status_code == 422 and "待分派" in named.get_data(as_text=True)
    preview = upload(
        supervisor,
        [["信件", "2024-03-05", "来信：不知哪个单位。", "", ""]],
        office="unrouted",
        notice="none",
    )
    assert preview.status_code == 200, preview.get_data(as_text=True)[:3000]
    done = confirm(supervisor, preview.get_data(as_text=True))
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "待分派" in html and "写答复信" not in html  # no office yet to answer from
    assert submissions(app) == [(None, None)]


# --- the public form, receipt and acknowledgement -----------------------------------------------


def test_the_public_form_receipt_and_mail_name_the_office(
    client: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    form = client.get(f"/notices/{two_offices.b_notice}/feedback").get_data(as_text=True)
    assert f"承办单位：<strong>{two_offices.b_name}</strong>" in form
    assert two_offices.a_name not in form
    other = client.get(f"/notices/{two_offices.a_notice}/feedback").get_data(as_text=True)
    assert f"承办单位：<strong>{two_offices.a_name}</strong>" in other

    response = form_post(
        client,
        f"/notices/{two_offices.b_notice}/feedback",
        {
            "body": "医院门口的停车问题整改还没有完成，希望尽快处理。",
            "contact_email": "citizen@example.cn",
            "consent": "y",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    receipt = client.get("/feedback/receipt").get_data(as_text=True)
    assert two_offices.b_name in receipt and two_offices.a_name not in receipt
    with app.app_context():
        ack = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "ack"))
        assert ack is not None
        assert f"承办单位：{two_offices.b_name}" in ack.text
        assert ack.text.rstrip().endswith(two_offices.b_name)  # signed by the office
    assert submissions(app) == [(two_offices.b, two_offices.b_notice_id)]


def test_an_office_s_own_reply_deadline_is_the_one_promised(
    client: FlaskClient, app: Flask, two_offices: TwoOffices
) -> None:
    from portal.offices.models import Office

    with app.app_context():
        office = db.session.get(Office, two_offices.b)
        assert office is not None
        office.reply_within_workdays = 7
        db.session.commit()
    form = client.get(f"/notices/{two_offices.b_notice}/feedback").get_data(as_text=True)
    assert "我们将在7个工作日内答复" in form
    other = client.get(f"/notices/{two_offices.a_notice}/feedback").get_data(as_text=True)
    assert "我们将在7个工作日内答复" not in other
