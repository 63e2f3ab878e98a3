"""Staff intake: letters, calls, visits and the box through the one door; bulk files; reply
letters and labels; who may see what."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.audit import Event
from portal.extensions import db as _db
from portal.intake.models import Submission
from portal.intake.sanitize import normalise_text
from portal.notices.models import Notice
from portal.workdays import as_utc, local_today
from tests.conftest import csrf_token_from, form_post
from tests.fixtures.intake import gen_csv, gen_image, gen_pdf, gen_sheet

SH = ZoneInfo("Asia/Shanghai")
NEW = "/staff/intake/new"
BULK = "/staff/intake/bulk"
CODE_RE = re.compile(r'id="receipt-code">([0-9A-Z]{5}-[0-9A-Z]{5})<')
SECRET_RE = re.compile(r'id="receipt-secret">(\d{4} \d{4} \d{4} \d{4})<')
OFFICE = {
    "OFFICE_NAME": "东莞市人民检察院巡察整改办公室",
    "OFFICE_ADDRESS": "东莞市东城西路185号",
    "OFFICE_POSTCODE": "523000",
}


@pytest.fixture
def notice_slug(app: Flask, published_notice: str) -> str:
    """The seed notice with a window that closes at the end of 2024-03-01, Beijing time."""
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        # Stored in UTC, as the notice admin does (SQLite keeps no offset).
        notice.feedback_opens_at = datetime(2024, 2, 2, tzinfo=SH).astimezone(UTC)
        notice.feedback_closes_at = datetime(2024, 3, 2, tzinfo=SH).astimezone(UTC)
        _db.session.commit()
    return published_notice


@pytest.fixture
def triager(staff_login: Any, notice_slug: str) -> FlaskClient:
    return staff_login("triager")


def letter_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "letter",
        "received_on": "2024-03-06",
        "postmarked_on": "2024-03-01",
        "contact_name": "张三",
        "contact_postcode": "523000",
        "contact_address": "东莞市东城区某路1号",
        "consent": "y",
        "subject": "关于采购监督",
        "body": "来信反映采购项目审查情况报告没有公开，希望接受群众监督。",
        "findings": ["13"],
    }
    data.update(overrides)
    return data


def post_new(client: FlaskClient, data: dict[str, Any]) -> Any:
    return form_post(client, NEW, data, content_type="multipart/form-data")


def receipt(client: FlaskClient) -> tuple[str, str, str]:
    html = client.get("/staff/intake/receipt").get_data(as_text=True)
    code, secret = CODE_RE.search(html), SECRET_RE.search(html)
    assert code and secret, html[:2000]
    return code.group(1), secret.group(1).replace(" ", ""), html


def load(app: Flask, code: str) -> Submission:
    from portal.intake.service import find_by_code

    with app.app_context():
        submission = find_by_code(code)
        assert submission is not None
        _db.session.expunge(submission)  # read its loaded columns outside the context
        return submission


def count(app: Flask) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(Submission.id))) or 0


def events(app: Flask, action: str) -> list[Event]:
    with app.app_context():
        return list(_db.session.scalars(select(Event).where(Event.action == action)))


# --- one item through the form -----------------------------------------------------------------


def test_form_shows_the_notice_contacts_and_findings(triager: FlaskClient, app: Flask) -> None:
    html = triager.get(NEW).get_data(as_text=True)
    with app.app_context():
        notice = _db.session.scalar(select(Notice))
        phone, address, title = (
            notice.contact_phone,
            notice.contact_address,
            notice.findings[0].title,
        )
    assert phone and phone in html
    assert address and address in html
    assert title in html
    assert "至2024年3月1日止" in html, "the window's last local day is stated"
    for name in ("channel", "received_on", "postmarked_on", "contact_name", "contact_address",
                 "body", "findings", "attachments", "called_at", "duration_min", "line",
                 "received_by"):  # fmt: skip
        assert f'name="{name}"' in html, name


def test_letter_with_scans_is_recorded_with_postmark_receipt_and_files(
    triager: FlaskClient, app: Flask
) -> None:
    pdf, png = gen_pdf("scan page 1"), gen_image("PNG")
    data = letter_data(attachments=[(io.BytesIO(pdf), "第1页.pdf"), (io.BytesIO(png), "第2页.png")])
    response = post_new(triager, data)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    code, secret, html = receipt(triager)
    assert "只显示这一次" in html and "第1页.pdf" in html
    again = triager.get("/staff/intake/receipt").get_data(as_text=True)
    assert code not in again, "the secret is shown once"

    submission = load(app, code)
    assert submission.channel == "letter"
    assert submission.postmarked_on == date(2024, 3, 1)
    assert not submission.late, "postmarked on the last day: on time although it came later"
    assert submission.received_at.astimezone(SH).date() == date(2024, 3, 6)
    assert submission.contact_name == "张三"
    assert submission.contact_address == "523000 东莞市东城区某路1号"
    assert submission.consent_at is not None
    with app.app_context():
        stored = _db.session.get(Submission, submission.id)
        assert stored.finding_numbers == [13]
        assert [a.filename for a in stored.attachments] == ["第1页.pdf", "第2页.png"]
        from portal.intake.service import check_secret

        assert check_secret(stored, secret)
    recorded = events(app, "submission.record")
    assert recorded[-1].actor.startswith("user:"), "the staff member is the audit actor"


def test_postmark_the_day_after_closing_is_marked_late(triager: FlaskClient, app: Flask) -> None:
    assert post_new(triager, letter_data(postmarked_on="2024-03-02")).status_code == 303
    code, _, html = receipt(triager)
    assert "逾期" in html
    assert load(app, code).late


def test_phone_call_details_and_midnight_boundary(triager: FlaskClient, app: Flask) -> None:
    common = {"channel": "phone", "contact_phone": "138 0013 8000", "consent": "y",
              "body": "来电反映路灯问题", "duration_min": "8", "line": "0769-22366196"}  # fmt: skip
    assert (
        post_new(triager, {**common, "received_on": "2024-03-01", "called_at": "2024-03-01T23:59"})
    ).status_code == 303
    before = load(app, receipt(triager)[0])
    assert (
        post_new(triager, {**common, "received_on": "2024-03-02", "called_at": "2024-03-02T00:01"})
    ).status_code == 303
    after = load(app, receipt(triager)[0])
    assert before.channel_details["duration_min"] == 8
    assert before.channel_details["number"] == "0769-22366196"
    assert before.contact_phone == "13800138000", "the caller's own number is personal data"
    called = datetime.fromisoformat(before.channel_details["called_at"])
    assert called.astimezone(SH) == datetime(2024, 3, 1, 23, 59, tzinfo=SH)
    assert (before.late, after.late) == (False, True)


def test_visit_records_who_received_it(triager: FlaskClient, app: Flask) -> None:
    data = {"channel": "visit", "received_on": "2024-02-20", "anonymous": "y",
            "body": "来访群众口头反映情况。", "received_by": "李四"}  # fmt: skip
    assert post_new(triager, data).status_code == 303
    submission = load(app, receipt(triager)[0])
    assert submission.channel == "visit" and submission.anonymous
    assert submission.channel_details["received_by"] == "李四"
    assert submission.contact_name is None


def test_yesterdays_call_is_logged_with_its_time_alone(triager: FlaskClient, app: Flask) -> None:
    """One date, not two that must agree: the call's time dates it, whatever the (prefilled)
    received date says."""
    yesterday = local_today() - timedelta(days=1)
    data = {"channel": "phone", "anonymous": "y", "body": "昨天下午来电反映路灯问题。",
            "called_at": f"{yesterday.isoformat()}T15:30"}  # fmt: skip
    assert post_new(triager, data).status_code == 303
    called = load(app, receipt(triager)[0])
    assert as_utc(called.received_at).astimezone(SH) == datetime.combine(
        yesterday, datetime.min.time().replace(hour=15, minute=30), tzinfo=SH
    )
    # The form prefills today's date; it no longer has to be changed to match the call.
    data["received_on"] = local_today().isoformat()
    assert post_new(triager, data).status_code == 303
    again = load(app, receipt(triager)[0])
    assert again.received_at == called.received_at


def test_a_call_without_its_time_needs_the_day(triager: FlaskClient, app: Flask) -> None:
    data = {"channel": "phone", "anonymous": "y", "body": "来电反映路灯问题。"}
    response = post_new(triager, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请填写来电时间（或来电日期）。" in html.split('id="called_at-error"')[1][:80]
    assert post_new(triager, {**data, "received_on": "2024-02-20"}).status_code == 303
    submission = load(app, receipt(triager)[0])
    assert as_utc(submission.received_at).astimezone(SH).date() == date(2024, 2, 20)


def test_fields_of_other_channels_are_ignored_not_refused(triager: FlaskClient, app: Flask) -> None:
    """Without script every field shows: a receptionist's name left in (it is prefilled) or a
    call's half-typed time must neither block a letter nor be recorded with it."""
    data = letter_data(received_by="李四", duration_min="八分钟", called_at="2024-03-05T25:00",
                       line="0769-22366196")  # fmt: skip
    assert post_new(triager, data).status_code == 303
    details = load(app, receipt(triager)[0]).channel_details
    assert details is not None
    assert not {"received_by", "duration_min", "called_at", "number"} & set(details)
    visit = {"channel": "visit", "received_on": "2024-02-20", "anonymous": "y",
             "body": "来访反映情况。", "received_by": "李四",
             "postmarked_on": "2024-03-09"}  # fmt: skip
    assert post_new(triager, visit).status_code == 303, "a postmark after the visit is ignored"
    submission = load(app, receipt(triager)[0])
    assert submission.postmarked_on is None
    assert submission.channel_details["received_by"] == "李四"


@pytest.mark.parametrize(
    ("channel", "message"),
    [("visit", "请填写来访日期。"), ("box", "请填写开箱日期。"), ("letter", "请填写收到日期。")],
)
def test_each_channel_asks_for_its_own_date(
    triager: FlaskClient, app: Flask, channel: str, message: str
) -> None:
    data = {"channel": channel, "anonymous": "y", "body": "意见内容。"}
    response = post_new(triager, data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app) == 0


def test_letter_date_and_box_opening_day_are_kept(triager: FlaskClient, app: Flask) -> None:
    assert post_new(triager, letter_data(letter_dated_on="2024-02-28")).status_code == 303
    details = load(app, receipt(triager)[0]).channel_details
    assert details["letter_dated_on"] == "2024-02-28"
    late = post_new(triager, letter_data(letter_dated_on="2024-03-07"))
    assert late.status_code == 422 and "落款日期不能晚于收到日期。" in late.get_data(True)
    box = {"channel": "box", "received_on": "2024-02-26", "anonymous": "y", "body": "投箱意见。"}
    assert post_new(triager, box).status_code == 303
    assert load(app, receipt(triager)[0]).channel_details["opened_on"] == "2024-02-26"


def test_each_channels_fields_are_marked_for_the_script(triager: FlaskClient) -> None:
    html = triager.get(NEW).get_data(as_text=True)
    sections = dict(re.findall(r'<fieldset data-channels="(\w+)">(.*?)</fieldset>', html, re.S))
    assert set(sections) == {"letter", "phone", "visit"}
    assert 'name="received_by"' in sections["visit"]
    assert (
        'name="postmarked_on"' in sections["letter"]
        and 'name="letter_dated_on"' in sections["letter"]
    )
    assert 'name="called_at"' in sections["phone"] and 'name="duration_min"' in sections["phone"]
    # Without script the hints say which channel each part is for.
    assert "（仅来访填写）" in sections["visit"] and "（仅来电填写）" in sections["phone"]
    assert "js/staff-intake.js" in html and "<script>" not in html


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"consent": ""}, "consent"),
        ({"anonymous": "y"}, "anonymous"),
        ({"postmarked_on": "2024-03-07"}, "postmarked_on"),
        ({"body": "   "}, "body"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"contact_postcode": "52300"}, "contact_postcode"),
        ({"findings": ["99"]}, "findings"),
    ],
)
def test_bad_input_reshows_the_form_and_stores_nothing(
    triager: FlaskClient, app: Flask, overrides: dict[str, Any], field: str
) -> None:
    response = post_new(triager, letter_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html or 'class="error-summary"' in html
    assert count(app) == 0


def test_received_in_the_future_is_refused(triager: FlaskClient, app: Flask) -> None:
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    response = post_new(triager, letter_data(received_on=tomorrow, postmarked_on=""))
    assert response.status_code == 422 and 'id="received_on-error"' in response.get_data(True)
    assert count(app) == 0


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(min_size=1, max_size=300), name=st.text(max_size=40))
def test_any_text_is_stored_normalised_or_refused(
    triager: FlaskClient, app: Flask, body: str, name: str
) -> None:
    before = count(app)
    response = post_new(triager, letter_data(body=body, contact_name=name))
    if response.status_code == 303:
        submission = load(app, receipt(triager)[0])
        assert submission.body == normalise_text(body).strip()
        assert count(app) == before + 1
    else:
        assert response.status_code == 422
        assert count(app) == before


# --- bulk ----------------------------------------------------------------------------------------

HEADER = [
    "渠道",
    "收到日期",
    "邮戳日期",
    "姓名",
    "地址",
    "邮编",
    "同意使用联系方式",
    "内容",
    "涉及问题",
]
ROWS = [
    ["信件", "2024-03-05", "2024-03-01", "王小明", "东莞市南城区鸿福路1号", "523888", "是",
     "来信建议公开采购审查报告。", "13"],
    ["信件", "2024-03-05", "2024-03-02", "", "", "", "", "匿名来信，反映经费问题。", "14"],
    ["意见箱", "2024-03-04", "", "", "", "", "", "意见箱：希望加强警示教育。", "11、12"],
]  # fmt: skip


def make_csv(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    return gen_csv(rows, encoding)


def upload(client: FlaskClient, data: bytes, filename: str) -> Any:
    return form_post(
        client, BULK, {"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def confirm_fields(html: str) -> dict[str, str]:
    fields = dict(
        re.findall(r'name="(notice|filename|token|csrf_token)"[^>]*value="([^"]*)"', html)
    )
    assert set(fields) == {"notice", "filename", "token", "csrf_token"}, html[:2000]
    return fields


def import_file(client: FlaskClient, data: bytes, filename: str) -> Any:
    preview = upload(client, data, filename)
    assert preview.status_code == 200, preview.get_data(as_text=True)[:3000]
    return client.post("/staff/intake/bulk/confirm", data=confirm_fields(preview.get_data(True)))


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (make_csv([HEADER, *ROWS]), "letters.csv"),
        (make_csv([HEADER, *ROWS], "utf-8"), "letters.csv"),
        (make_csv([HEADER, *ROWS], "gb18030"), "信件.csv"),
        (gen_sheet([HEADER, *ROWS]), "letters.xlsx"),
    ],
    ids=["csv-bom", "csv-utf8", "csv-gb18030", "xlsx"],
)
def test_a_good_file_imports_every_row(
    triager: FlaskClient, app: Flask, data: bytes, filename: str
) -> None:
    response = import_file(triager, data, filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:3000]
    codes = re.findall(r'class="receipt-code-small">([0-9A-Z]{5}-[0-9A-Z]{5})<', html)
    assert len(codes) == len(ROWS) == count(app)
    assert len(re.findall(r"<code>\d{4} \d{4} \d{4} \d{4}</code>", html)) == len(ROWS)
    first, second, third = (load(app, c) for c in codes)
    assert first.contact_name == "王小明", "Chinese survives the file's encoding"
    assert first.contact_address == "523888 东莞市南城区鸿福路1号"
    assert (first.late, second.late) == (False, True), "the postmark rule decides"
    assert third.channel == "box" and third.postmarked_on is None
    assert len(events(app, "intake.bulk_import")) == 1


def test_one_bad_row_imports_nothing_and_names_row_and_column(
    triager: FlaskClient, app: Flask
) -> None:
    rows = [HEADER, ROWS[0], ["信件", "2024-02-30", "", "", "", "", "", "日期错误", ""], ROWS[2]]
    data = make_csv(rows)
    preview = upload(triager, data, "letters.csv")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 422
    assert "第3行“收到日期”" in html
    assert 'name="token"' not in html, "no confirm button while a row is wrong"
    assert count(app) == 0


def test_a_confirmation_works_once_and_only_for_its_uploader(
    triager: FlaskClient, staff_login: Any, app: Flask
) -> None:
    preview = upload(triager, make_csv([HEADER, *ROWS]), "letters.csv")
    fields = confirm_fields(preview.get_data(as_text=True))
    other = staff_login("triager")
    stolen = {**fields, "csrf_token": csrf_token_from(other.get(BULK).get_data(as_text=True))}
    assert other.post("/staff/intake/bulk/confirm", data=stolen).status_code == 410
    forged = {**fields, "token": "A" * 32}
    assert triager.post("/staff/intake/bulk/confirm", data=forged).status_code == 410
    assert count(app) == 0
    assert triager.post("/staff/intake/bulk/confirm", data=fields).status_code == 200
    again = triager.post("/staff/intake/bulk/confirm", data=fields)
    assert again.status_code == 410 and "重新上传" in again.get_data(as_text=True)
    assert count(app) == len(ROWS)
    pending = Path(app.instance_path) / "bulk-pending"
    assert not any(pending.iterdir()), "no copy of the file stays behind"


def test_a_row_the_door_refuses_rolls_back_the_rows_before_it(
    triager: FlaskClient, app: Flask
) -> None:
    from portal.intake.bulk_rows import BulkRow
    from portal.intake.bulk_service import BulkRowRejected, import_rows

    good = BulkRow(row=2, channel="letter", received_on=date(2024, 3, 5), body="第一封")
    also = BulkRow(row=3, channel="box", received_on=date(2024, 3, 5), body="第二件")
    # Past the file checks (built directly), refused by record_submission's own rules.
    bad = BulkRow(row=4, channel="letter", received_on=date(2024, 3, 5), body="第三封",
                  email="not-an-address", consent=True)  # fmt: skip
    with app.test_request_context(), pytest.raises(BulkRowRejected) as caught:
        import_rows([good, also, bad], None, "f" * 64, "x.csv")
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "电子邮箱")]
    assert count(app) == 0
    assert events(app, "submission.record") == []


def test_the_same_file_twice_is_refused_the_second_time(triager: FlaskClient, app: Flask) -> None:
    data = make_csv([HEADER, *ROWS])
    assert import_file(triager, data, "letters.csv").status_code == 200
    again = import_file(triager, data, "letters.csv")
    assert again.status_code == 422 and "已经导入过" in again.get_data(as_text=True)
    assert count(app) == len(ROWS)


def test_templates_download_with_the_documented_columns(triager: FlaskClient) -> None:
    page = triager.get(BULK).get_data(as_text=True)
    csv_file = triager.get("/staff/intake/bulk/template.csv")
    assert csv_file.data.startswith(b"\xef\xbb\xbf"), "BOM: Excel opens Chinese headers right"
    header = next(csv.reader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    assert "attachment" in csv_file.headers["Content-Disposition"]
    xlsx = triager.get("/staff/intake/bulk/template.xlsx")
    workbook = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    assert [c.value for c in next(workbook.worksheets[0].iter_rows(max_row=1))] == header
    assert workbook.sheetnames[1] == "填写说明"
    for column in header:
        assert f'<th scope="row">{column}</th>' in page, f"{column} is documented on the page"


# --- scans: only staff ---------------------------------------------------------------------------


@pytest.fixture
def scan_url(triager: FlaskClient, app: Flask) -> str:
    data = letter_data(attachments=[(io.BytesIO(gen_pdf("scan")), "扫描件.pdf")])
    assert post_new(triager, data).status_code == 303
    with app.app_context():
        submission = _db.session.scalar(select(Submission))
        return f"/staff/intake/attachments/{submission.attachments[0].id}"


def test_scans_are_served_only_to_staff_who_may_triage(
    scan_url: str, triager: FlaskClient, staff_login: Any, app: Flask
) -> None:
    anonymous = app.test_client().get(scan_url)
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.location
    assert staff_login("viewer").get(scan_url).status_code == 403
    response = triager.get(scan_url)
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert any(
        e.details.get("reason") == "查看扫描件/附件" for e in events(app, "personal_data.view")
    )


# --- reply letters and labels --------------------------------------------------------------------


@pytest.fixture
def letter_code(triager: FlaskClient) -> str:
    assert post_new(triager, letter_data()).status_code == 303
    return receipt(triager)[0]


@pytest.mark.config(**OFFICE)
def test_reply_letter_shows_letterhead_recipient_code_and_audits_the_view(
    triager: FlaskClient, letter_code: str, app: Flask
) -> None:
    url = f"/staff/intake/letters/{letter_code}"
    preview = triager.get(url).get_data(as_text=True)
    assert "张**" in preview and "张三" not in preview and "某路1号" not in preview
    assert events(app, "personal_data.view") == [], "a GET decrypts nothing for show"
    token = csrf_token_from(preview)
    html = triager.post(url, data={"csrf_token": token, "reason": "邮寄答复"}).get_data(
        as_text=True
    )
    for text in (OFFICE["OFFICE_NAME"], OFFICE["OFFICE_ADDRESS"], OFFICE["OFFICE_POSTCODE"],
                 "张三", "东莞市东城区某路1号", "523000", letter_code, "2024年3月6日"):  # fmt: skip
        assert text in html, text
    today = local_today()
    assert f"{today.year}年{today.month}月{today.day}日" in html, "dated today, in Chinese"
    viewed = events(app, "personal_data.view")
    assert viewed and viewed[-1].details["reason"] == "打印答复信：邮寄答复"
    assert viewed[-1].details["code"] == letter_code

    typed = triager.post(url, data={"csrf_token": token, "reply": "经核查，已整改。\n感谢监督。",
                                    "letter_date": "2024-03-20", "reason": "邮寄答复"})  # fmt: skip
    page = typed.get_data(as_text=True)
    assert "经核查，已整改。" in page and "感谢监督。" in page and "2024年3月20日" in page
    assert "css/letter.css" in page


def test_without_office_config_the_return_address_is_the_notices(
    triager: FlaskClient, letter_code: str, app: Flask
) -> None:
    with app.app_context():
        notice = _db.session.scalar(select(Notice))
        address, postcode = notice.contact_address, notice.contact_postcode
    html = triager.get(f"/staff/intake/letters/{letter_code}").get_data(as_text=True)
    sheet = html[html.index('class="letter-sheet"') :]
    assert address and address in sheet.split('class="recipient"')[0]
    assert postcode and postcode in sheet.split('class="recipient"')[0]


@pytest.mark.config(**OFFICE)
def test_reply_letter_as_pdf(triager: FlaskClient, letter_code: str) -> None:
    url = f"/staff/intake/letters/{letter_code}"
    data = {"reply": "已整改", "reason": "邮寄答复"}
    response = form_post(triager, f"{url}/pdf", data, form_url=url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    assert letter_code in response.headers["Content-Disposition"]


def test_reply_text_comes_from_the_latest_reply_when_triage_wrote_one(
    triager: FlaskClient, letter_code: str, app: Flask
) -> None:
    from portal.triage import models as reply_models

    with app.app_context():
        submission = _db.session.scalar(select(Submission))
        for text in ("第一次答复草稿", "正式答复：已完成整改。"):
            _db.session.add(
                reply_models.Reply(submission_id=submission.id, body=text, channel="letter")
            )
        _db.session.commit()
    html = triager.get(f"/staff/intake/letters/{letter_code}").get_data(as_text=True)
    assert "正式答复：已完成整改。" in html and "第一次答复草稿" not in html


def test_label_sheet_for_a_batch(triager: FlaskClient, app: Flask) -> None:
    codes = []
    for name in ("甲", "乙"):
        post_new(triager, letter_data(contact_name=name, contact_address=f"{name}街1号"))
        codes.append(receipt(triager)[0])
    post_new(triager, letter_data(contact_name="", contact_address="", contact_postcode="",
                                  consent=""))  # fmt: skip
    no_address = receipt(triager)[0]
    wanted = ",".join([*codes, no_address, "ZZZZZ-ZZZZZ"])
    form = triager.get(f"/staff/intake/labels?codes={wanted}").get_data(as_text=True)
    assert "甲街1号" not in form and codes[0] in form, "the link fills the form, nothing more"
    assert events(app, "personal_data.view") == []
    html = form_post(
        triager, "/staff/intake/labels", {"codes": wanted, "reason": "邮寄答复"}, form_url=NEW
    )
    page = html.get_data(as_text=True)
    assert page.count('class="label"') == 2
    assert "甲街1号" in page and "乙街1号" in page and "523000" in page
    assert no_address in page and "没有回信地址" in page
    assert "ZZZZZ-ZZZZZ" in page and "未找到" in page
    reasons = [e.details["reason"] for e in events(app, "personal_data.view")]
    assert reasons.count("打印地址标签：邮寄答复") == 2


# --- who may use these pages ---------------------------------------------------------------------

STAFF_PAGES = [
    "/staff/intake/new",
    "/staff/intake/receipt",
    "/staff/intake/bulk",
    "/staff/intake/bulk/template.csv",
    "/staff/intake/bulk/template.xlsx",
    "/staff/intake/letters/{code}",
    "/staff/intake/labels?codes={code}",
    "/staff/intake/attachments/1",
]


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_lower_roles_get_403_on_every_page(
    role: str, staff_login: Any, letter_code: str, app: Flask
) -> None:
    client = staff_login(role)
    for page in STAFF_PAGES:
        assert client.get(page.format(code=letter_code)).status_code == 403, page
    token = csrf_token_from(client.get("/staff/account").get_data(as_text=True))
    letter = f"/staff/intake/letters/{letter_code}"
    for page in (NEW, BULK, "/staff/intake/bulk/confirm", letter, f"{letter}/pdf",
                 "/staff/intake/labels"):  # fmt: skip
        data = {"csrf_token": token, "reason": "试图打印", "codes": letter_code}
        assert client.post(page, data=data).status_code == 403, page
    assert events(app, "personal_data.view") == []


def test_anonymous_visitors_are_sent_to_login(client: FlaskClient, notice_slug: str) -> None:
    for page in STAFF_PAGES:
        response = client.get(page.format(code="ABCDE-FGHJK"))
        assert response.status_code == 302 and "/staff/login" in response.location, page


def test_admin_may_do_what_a_triager_does(staff_login: Any, notice_slug: str) -> None:
    admin = staff_login("admin")
    assert admin.get(NEW).status_code == 200
    assert admin.get(BULK).status_code == 200


def test_staff_pages_are_never_cached(triager: FlaskClient) -> None:
    assert triager.get(NEW).headers["Cache-Control"] == "no-store"
