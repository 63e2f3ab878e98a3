"""The case's life after the receipt (#17): merged citizens hear the answer, a follow-up after a
reply raises the case, 好差评 with escalation, the honest (pausable) clock, code + phone."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.outbox.models import OutboxMessage
from portal.triage.case_models import Pause, Rating
from portal.triage.models import Reply
from tests.conftest import form_post
from tests.test_replies import _record, _reply

PHONE = "13812345678"


def _open_track(app: Flask, receipt: Any) -> Any:
    public = app.test_client()
    response = form_post(public, "/track", {"code": receipt.code, "secret": receipt.secret})
    assert response.status_code == 303
    return public


def _status(app: Flask, receipt: Any) -> str:
    with app.app_context():
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None
        return submission.status


def _merge(app: Flask, duplicate: Any, original: Any) -> None:
    from portal.triage.actions import merge_duplicate

    with app.app_context():
        dup = db.session.get(Submission, duplicate.submission_id)
        orig = db.session.get(Submission, original.submission_id)
        assert dup is not None and orig is not None
        merge_duplicate(dup, orig, actor="test", reason="同一件事")
        db.session.commit()


# --- merged citizens ------------------------------------------------------------------------


def test_a_merged_citizen_sees_and_receives_the_originals_reply(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    from portal.intake.service import Contact

    original = _record(app, published_notice)
    merged = _record(
        app,
        published_notice,
        body="食堂浪费的问题我也要反映，饭菜大量倒掉。",
        contact=Contact(name="王芳", phone="13900001111", email="wang.fang@example.com"),
    )
    _merge(app, merged, original)
    client = staff_login("triager")
    answer = "您好，食堂已实行按需取餐并每周公示剩餐量。"
    assert _reply(client, original.code, answer).status_code == 303

    page = _open_track(app, merged).get("/track/status").get_data(as_text=True)
    assert answer in page
    assert original.code in page  # "merged with" names the case whose progress is shown
    assert "已答复" in page  # the original's status, not a bare "merged"
    with app.app_context():
        mails = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "reply").order_by(OutboxMessage.id)
        ).all()
        assert sorted(m.to for m in mails) == ["li.ming@example.com", "wang.fang@example.com"]
        assert answer in next(m.text for m in mails if m.to == "wang.fang@example.com")
        assert _status(app, merged) == "duplicate"


def test_a_merged_letter_writer_gets_a_letter_reply_record(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    from portal.intake.service import Contact

    original = _record(app, published_notice)
    letter = _record(
        app,
        published_notice,
        channel="letter",
        body="来信反映：食堂浪费。",
        consent=False,
        contact=Contact(name="赵强", address="523000 东莞市南城区某路1号"),
    )
    _merge(app, letter, original)
    assert _reply(staff_login("triager"), original.code, "答复正文").status_code == 303
    with app.app_context():
        copy = db.session.scalar(select(Reply).where(Reply.submission_id == letter.submission_id))
        assert copy is not None and copy.channel == "letter" and copy.body == "答复正文"


# --- follow-ups reopen ----------------------------------------------------------------------


def test_a_follow_up_after_a_reply_raises_the_case(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    assert _reply(staff_login("triager"), receipt.code, "已整改。").status_code == 303
    assert _status(app, receipt) == "replied"
    public = _open_track(app, receipt)
    response = form_post(
        public, "/track/follow-up", {"body": "整改后仍有浪费。"}, form_url="/track/status"
    )
    assert response.status_code == 303
    assert _status(app, receipt) == "follow_up"
    with app.app_context():
        from portal.triage.case_loop import raised_counts

        assert raised_counts() == {"follow_up": 1, "reopened": 0}


def test_a_follow_up_before_any_reply_leaves_the_status(app: Flask, published_notice: str) -> None:
    receipt = _record(app, published_notice)
    public = _open_track(app, receipt)
    form_post(public, "/track/follow-up", {"body": "再补充一点。"}, form_url="/track/status")
    assert _status(app, receipt) == "received"


# --- satisfaction ---------------------------------------------------------------------------


def test_unsatisfied_on_track_reopens_and_escalates_to_supervisors(
    app: Flask, published_notice: str, staff_login: Any, make_user: Any
) -> None:
    make_user("supervisor", "chief@example.com")
    receipt = _record(app, published_notice)
    public = _open_track(app, receipt)
    assert "评价答复" not in public.get("/track/status").get_data(as_text=True)  # nothing to rate
    assert _reply(staff_login("triager"), receipt.code, "已整改。").status_code == 303
    page = public.get("/track/status").get_data(as_text=True)
    assert "评价答复" in page and "基本满意" in page
    response = form_post(
        public,
        "/track/rate",
        {"rating": "unsatisfied", "comment": "食堂仍然浪费"},
        form_url="/track/status",
    )
    assert response.status_code == 303
    assert _status(app, receipt) == "reopened"
    with app.app_context():
        rating = db.session.scalar(select(Rating))
        assert rating is not None and rating.rating == "unsatisfied"
        assert rating.comment == "食堂仍然浪费" and rating.escalation_due_on is not None
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None and submission.reply_due_on == rating.escalation_due_on
        escalation = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "escalation")
        )
        assert escalation is not None and escalation.to == "chief@example.com"
    page = public.get("/track/status").get_data(as_text=True)
    assert "不满意" in page and "评价答复" not in page  # rated once per answer
    history = staff_login("triager").get(f"/staff/submissions/{receipt.code}")
    assert "群众评价答复" in history.get_data(as_text=True)  # in the staff history, in words


def test_rating_link_in_the_reply_mail_records_a_satisfied_rating(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    assert _reply(staff_login("triager"), receipt.code, "已整改。").status_code == 303
    with app.app_context():
        mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reply"))
        assert mail is not None
        link = next(line for line in mail.text.splitlines() if "/track/rate/" in line)
    path = link[link.index("/track/rate/") :].strip()
    public = app.test_client()
    response = form_post(public, path, {"rating": "satisfied"})
    assert response.status_code == 200 and "感谢您的评价" in response.get_data(as_text=True)
    assert _status(app, receipt) == "replied"
    forged = public.get(path[:-3] + "abc")
    assert forged.status_code == 404


def test_rating_without_a_choice_is_refused_in_chinese(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    assert _reply(staff_login("triager"), receipt.code, "已整改。").status_code == 303
    public = _open_track(app, receipt)
    response = form_post(public, "/track/rate", {"comment": "没选"}, form_url="/track/status")
    assert response.status_code == 422
    assert "请选择满意、基本满意或不满意" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Rating)) is None


def test_aggregate_counts_per_key_and_share() -> None:
    from portal.triage.satisfaction import aggregate

    tallies = aggregate(
        [("3", "satisfied"), ("3", "unsatisfied"), ("5", "basically_satisfied"), ("5", "x")]
    )
    assert list(tallies) == ["3", "5"]
    assert tallies["3"].total == 2 and tallies["3"].satisfied_share == 0.5
    assert tallies["5"].total == 1 and tallies["5"].satisfied_share == 1.0


# --- the honest clock -----------------------------------------------------------------------


def test_shifted_due_skips_a_holiday_inside_the_pause() -> None:
    from portal.triage.pauses import shifted_due
    from portal.workdays import WorkCalendar

    calendar = WorkCalendar.from_iso()
    # Asked Monday 2024-09-30, answered Tuesday 2024-10-08: the National Day holiday
    # (1-7 October) sits inside; only 8 October is a working day of the pause.
    paused, due = shifted_due(date(2024, 10, 21), date(2024, 9, 30), date(2024, 10, 8), calendar)
    assert paused == 1
    assert due == date(2024, 10, 22)


def test_a_paused_case_shows_the_question_and_the_answer_resumes_the_clock(
    app: Flask, published_notice: str, staff_login: Any, monkeypatch: Any
) -> None:
    receipt = _record(app, published_notice)
    staff = staff_login("triager")
    monkeypatch.setattr("portal.triage.case_views.local_today", lambda: date(2024, 9, 30))
    response = form_post(
        staff,
        f"/staff/submissions/{receipt.code}/ask",
        {"question": "请问是哪个食堂？"},
        form_url=f"/staff/submissions/{receipt.code}",
    )
    assert response.status_code == 303
    assert _status(app, receipt) == "waiting"
    with app.app_context():
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None
        submission.reply_due_on = date(2024, 10, 21)
        db.session.commit()
    public = _open_track(app, receipt)
    page = public.get("/track/status").get_data(as_text=True)
    assert "请问是哪个食堂？" in page and "暂停计算" in page
    staff_page = staff.get(f"/staff/submissions/{receipt.code}").get_data(as_text=True)
    assert "答复期限暂停计算（自2024-09-30起）" in staff_page

    monkeypatch.setattr("portal.triage.case_loop.local_today", lambda: date(2024, 10, 8))
    form_post(public, "/track/follow-up", {"body": "第二食堂。"}, form_url="/track/status")
    assert _status(app, receipt) == "in_progress"
    with app.app_context():
        pause = db.session.scalar(select(Pause))
        assert pause is not None and pause.paused_workdays == 1
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None and submission.reply_due_on == date(2024, 10, 22)
    page = public.get("/track/status").get_data(as_text=True)
    assert "暂停1个工作日" in page and "2024年10月22日" in page
    staff_page = staff.get(f"/staff/submissions/{receipt.code}").get_data(as_text=True)
    assert "暂停1个工作日，期限由2024-10-21顺延至2024-10-22" in staff_page


# --- code + phone -----------------------------------------------------------------------------


def test_code_and_phone_open_the_case_and_a_wrong_phone_does_not(
    app: Flask, published_notice: str
) -> None:
    receipt = _record(app, published_notice)
    public = app.test_client()
    wrong = form_post(
        public, "/track/phone", {"code": receipt.code, "phone": "13800000000"}, form_url="/track"
    )
    assert wrong.status_code == 422
    unknown = form_post(
        public, "/track/phone", {"code": "00000-00000", "phone": PHONE}, form_url="/track"
    )
    assert unknown.status_code == 422
    assert wrong.get_data(as_text=True).count("电话号码不正确") == unknown.get_data(
        as_text=True
    ).count("电话号码不正确")
    assert public.get("/track/status").status_code == 303
    ok = form_post(
        public, "/track/phone", {"code": receipt.code, "phone": "138 1234 5678"}, form_url="/track"
    )
    assert ok.status_code == 303
    assert receipt.code in public.get("/track/status").get_data(as_text=True)
    with app.app_context():
        from portal.audit.chain import Event

        tries = db.session.scalars(
            select(Event).where(Event.action == "track.open_by_phone").order_by(Event.id)
        ).all()
        assert len(tries) == 3  # every try is audited, the failed ones too


def test_phone_matching_is_strict() -> None:
    from portal.triage.track_loop_views import phone_matches

    assert phone_matches("+86 138-1234-5678", "13812345678")
    assert not phone_matches("", "13812345678")
    assert not phone_matches("1381234567", "13812345678")
    assert not phone_matches("13812345678", None)


# --- the contract and the ledger --------------------------------------------------------------


def test_show_json_and_the_csv_export_carry_the_rating(
    app: Flask, published_notice: str, staff_login: Any, runner: Any
) -> None:
    import json

    receipt = _record(app, published_notice)
    assert _reply(staff_login("triager"), receipt.code, "已整改。").status_code == 303
    public = _open_track(app, receipt)
    form_post(public, "/track/rate", {"rating": "basically_satisfied"}, form_url="/track/status")
    shown = json.loads(runner.invoke(args=["submissions", "show", receipt.code, "--json"]).output)
    assert (shown["status"], shown["satisfaction"]) == ("replied", "basically_satisfied")
    exported = runner.invoke(args=["submissions", "export", "--format", "csv"]).output
    header, row = exported.splitlines()[:2]
    assert "satisfaction" in header.split(",")
    assert "basically_satisfied" in row


def test_dashboard_shows_ratings_per_finding_and_per_staff_member(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    assert _reply(staff_login("triager"), receipt.code, "已整改。").status_code == 303
    public = _open_track(app, receipt)
    form_post(public, "/track/rate", {"rating": "unsatisfied"}, form_url="/track/status")
    page = staff_login("admin").get("/staff/dashboard").get_data(as_text=True)
    section = page.split("群众满意度")[1]
    assert "答复人" in section and "0%" in section  # one rating, unsatisfied
    with app.app_context():
        from portal.triage.satisfaction import dashboard_summary

        summary = dashboard_summary(None)
        assert [row.tally.counts["unsatisfied"] for row in summary["findings"]] == [1]
        assert summary["findings"][0].name.startswith("3.")
        assert [row.tally.total for row in summary["staff"]] == [1]


# --- "this was not me" ------------------------------------------------------------------------


def test_not_me_link_in_the_acknowledgement_hides_the_personal_data(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    staff = staff_login("triager")
    before = staff.get(f"/staff/submissions/{receipt.code}").get_data(as_text=True)
    assert "138****5678" in before  # masked, as for every submission
    with app.app_context():
        ack = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "ack"))
        assert ack is not None
        link = next(line for line in ack.text.splitlines() if "/track/not-me/" in line)
    path = link[link.index("/track/not-me/") :].strip()
    public = app.test_client()
    page = form_post(public, path, {"note": "我从没写过这封信"})
    assert page.status_code == 200 and "已收到" in page.get_data(as_text=True)

    detail = staff.get(f"/staff/submissions/{receipt.code}").get_data(as_text=True)
    assert "李*" not in detail and "138****5678" not in detail  # not even masked
    reveal = form_post(
        staff,
        f"/staff/submissions/{receipt.code}/personal-data",
        {"reason": "核实身份"},
        form_url=f"/staff/submissions/{receipt.code}",
    )
    assert "13812345678" not in reveal.get_data(as_text=True)
    # No answer goes to the disputed address.
    assert _reply(staff, receipt.code, "答复。").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reply")) is None

    decided = form_post(
        staff,
        f"/staff/submissions/{receipt.code}/not-me/upheld",
        {},
        form_url=f"/staff/submissions/{receipt.code}",
    )
    assert decided.status_code == 303
    with app.app_context():
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None
        assert (submission.contact_phone, submission.contact_email) == (None, None)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_TRACK="3/minute")
def test_guessing_phone_numbers_is_rate_limited(app: Flask, published_notice: str) -> None:
    receipt = _record(app, published_notice)
    public = app.test_client()
    codes = [
        form_post(
            public,
            "/track/phone",
            {"code": receipt.code, "phone": f"1380000000{n}"},
            form_url="/track",
        ).status_code
        for n in range(4)
    ]
    assert codes == [422, 422, 422, 429]
    # Even the right number waits out the limit.
    right = form_post(
        public, "/track/phone", {"code": receipt.code, "phone": PHONE}, form_url="/track"
    )
    assert right.status_code == 429


# --- attachments on /track --------------------------------------------------------------------


def test_the_submitters_own_files_are_served_only_to_the_open_case(
    app: Flask, published_notice: str
) -> None:
    from portal.intake.service import IncomingFile
    from tests.fixtures.intake import gen_pdf

    receipt = _record(app, published_notice, attachments=[IncomingFile("证据.pdf", gen_pdf())])
    with app.app_context():
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission is not None
        attachment_id = submission.attachments[0].id
    stranger = app.test_client()
    assert stranger.get(f"/track/attachments/{attachment_id}").status_code == 404
    public = _open_track(app, receipt)
    page = public.get("/track/status").get_data(as_text=True)
    assert "证据.pdf" in page and f"/track/attachments/{attachment_id}" in page
    response = public.get(f"/track/attachments/{attachment_id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # Another case's file is not reachable from this one.
    other = _record(
        app,
        published_notice,
        body="另一件关于公车私用的意见。",
        attachments=[IncomingFile("别人的.pdf", gen_pdf())],
    )
    with app.app_context():
        theirs = db.session.get(Submission, other.submission_id)
        assert theirs is not None
        other_id = theirs.attachments[0].id
    assert public.get(f"/track/attachments/{other_id}").status_code == 404


def test_staff_find_a_callers_case_by_its_code(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    _record(app, published_notice, body="另一件关于公车私用的意见，与来电无关。")
    staff = staff_login("triager")
    page = staff.get(f"/staff/queue?q={receipt.code}").get_data(as_text=True)
    assert receipt.code in page
    assert "公车私用" not in page
    # Read out over the phone: lower case, without the hyphen.
    typed = receipt.code.lower().replace("-", "")
    found = staff.get(f"/staff/lookup?code={typed}")
    assert found.status_code == 303
    assert found.location.endswith(f"/staff/submissions/{receipt.code}")
    missing = staff.get("/staff/lookup?code=00000-00000", follow_redirects=True)
    assert "找不到该回执编号" in missing.get_data(as_text=True)


# --- properties -------------------------------------------------------------------------------


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2025, 12, 1)),
    length=st.integers(min_value=0, max_value=40),
    due_offset=st.integers(min_value=0, max_value=30),
)
def test_a_pause_never_shortens_the_deadline_and_counts_only_working_days(
    start: date, length: int, due_offset: int
) -> None:
    from datetime import timedelta

    from portal.triage.pauses import shifted_due
    from portal.workdays import WorkCalendar

    calendar = WorkCalendar.from_iso()
    end = start + timedelta(days=length)
    due = calendar.add_workdays(start, due_offset)
    paused, new_due = shifted_due(due, start, end, calendar)
    assert 0 <= paused <= length
    assert paused == sum(
        calendar.is_workday(start + timedelta(days=n)) for n in range(1, length + 1)
    )
    assert new_due is not None and new_due >= due
    assert calendar.workdays_between(due, new_due) == paused


@given(st.text(max_size=30), st.text(max_size=30))
def test_phone_matching_never_crashes_and_needs_seven_digits(given_: str, stored: str) -> None:
    from portal.triage.track_loop_views import phone_matches

    matched = phone_matches(given_, stored)
    digits = "".join(c for c in given_ if c.isascii() and c.isdigit())
    assert not matched or len(digits) >= 7


def test_staff_stop_waiting_resumes_the_clock(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    staff = staff_login("triager")
    detail = f"/staff/submissions/{receipt.code}"
    form_post(staff, f"{detail}/ask", {"question": "请提供时间地点。"}, form_url=detail)
    assert _status(app, receipt) == "waiting"
    response = form_post(staff, f"{detail}/resume", {}, form_url=detail)
    assert response.status_code == 303
    assert _status(app, receipt) == "in_progress"
    with app.app_context():
        pause = db.session.scalar(select(Pause))
        assert pause is not None and pause.resumed_on is not None
    again = form_post(staff, f"{detail}/resume", {}, form_url=detail, follow_redirects=True)
    assert "没有在等待补充" in again.get_data(as_text=True)


def test_a_merged_citizens_follow_up_and_unsatisfied_rating_raise_the_original(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    from portal.intake.service import Contact

    original = _record(app, published_notice)
    merged = _record(
        app,
        published_notice,
        body="食堂浪费的问题我也要反映，饭菜大量倒掉。",
        contact=Contact(name="王芳", phone="13900001111", email="wang.fang@example.com"),
    )
    _merge(app, merged, original)
    assert _reply(staff_login("triager"), original.code, "已整改。").status_code == 303
    public = _open_track(app, merged)
    assert "评价答复" in public.get("/track/status").get_data(as_text=True)
    form_post(public, "/track/follow-up", {"body": "还是浪费。"}, form_url="/track/status")
    assert (_status(app, original), _status(app, merged)) == ("follow_up", "duplicate")
    assert "评价答复" not in public.get("/track/status").get_data(as_text=True)  # being handled
    assert _reply(staff_login("triager"), original.code, "已再次整改。").status_code == 303
    form_post(public, "/track/rate", {"rating": "unsatisfied"}, form_url="/track/status")
    assert (_status(app, original), _status(app, merged)) == ("reopened", "duplicate")


def test_merged_after_the_reply_reads_it_without_the_original_submitters_contact(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    from portal.intake.service import Contact

    original = _record(app, published_notice)
    answer = f"李明同志：您好，您反映的食堂浪费已整改。如有疑问请拨打0769-22366196或回复{PHONE}。"
    assert _reply(staff_login("triager"), original.code, answer).status_code == 303
    merged = _record(
        app,
        published_notice,
        body="食堂浪费的问题我也要反映，饭菜大量倒掉。",
        contact=Contact(name="王芳", phone="13900001111", email="wang.fang@example.com"),
    )
    _merge(app, merged, original)
    page = _open_track(app, merged).get("/track/status").get_data(as_text=True)
    assert "您反映的食堂浪费已整改" in page and "0769-22366196" in page
    assert "李明" not in page and PHONE not in page


def test_staff_record_a_callers_rating_of_a_letter_answer(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    from portal.intake.service import Contact

    receipt = _record(
        app,
        published_notice,
        channel="letter",
        body="来信反映：食堂浪费严重。",
        consent=False,
        contact=Contact(name="赵强", address="523000 东莞市南城区某路1号"),
    )
    staff = staff_login("triager")
    detail = f"/staff/submissions/{receipt.code}"
    early = form_post(staff, f"{detail}/rating", {"rating": "satisfied"}, form_url=detail)
    assert early.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Rating)) is None  # nothing answered yet
    assert _reply(staff, receipt.code, "已整改。").status_code == 303
    assert "记录群众通过电话或来信作出的评价" in staff.get(detail).get_data(as_text=True)
    form_post(
        staff, f"{detail}/rating", {"rating": "satisfied", "comment": "电话回访"}, form_url=detail
    )
    with app.app_context():
        rating = db.session.scalar(select(Rating))
        assert rating is not None
        assert (rating.rating, rating.source, rating.comment) == ("satisfied", "staff", "电话回访")
        assert rating.actor.startswith("user:")
    assert _status(app, receipt) == "replied"


def test_a_disputed_senders_address_leaves_the_contract_and_the_export(
    app: Flask, published_notice: str, staff_login: Any, runner: Any
) -> None:
    import json

    receipt = _record(
        app,
        published_notice,
        channel="email",
        body="来信反映食堂浪费严重，饭菜大量倒掉。",
        sender_email="someone@example.com",
        contact=None,
        consent=False,
    )

    def shown() -> Any:
        out = runner.invoke(args=["submissions", "show", receipt.code, "--json"]).output
        return json.loads(out)["sender_email"]

    assert shown() == "someone@example.com"
    staff = staff_login("triager")
    detail = f"/staff/submissions/{receipt.code}"
    flagged = form_post(staff, f"{detail}/not-me", {"note": "来电称未发过此邮件"}, form_url=detail)
    assert flagged.status_code == 303
    assert shown() is None
    exported = runner.invoke(args=["submissions", "export", "--format", "csv"]).output
    assert "someone@example.com" not in exported
    form_post(staff, f"{detail}/not-me/dismissed", {}, form_url=detail)
    assert shown() == "someone@example.com"  # staff decided it was theirs after all


def test_the_qr_code_link_fills_in_the_receipt_code(client: Any) -> None:
    """A slip's QR code opens /track?code=…: the citizen only types the secret (or phone)."""
    page = client.get("/track", query_string={"code": "ABCDE-FGHJK"}).get_data(as_text=True)
    assert page.count('value="ABCDE-FGHJK"') == 2  # the secret form and the phone form
    assert 'value="<' not in client.get("/track?code=<b>").get_data(as_text=True)
