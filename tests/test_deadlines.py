"""Deadlines in Chinese working days, overdue states, and the daily digest mail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.triage.deadlines import ack_overdue, deadline_state
from portal.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_national_day_week_is_skipped() -> None:
    # 2024: 1–7 October off; Sunday 29 September and Saturday 12 October were working days.
    received = local(2024, 9, 30, 10, 0)
    assert CAL.due_date(received, 3) == date(2024, 10, 10)
    assert CAL.due_date(received, 15) == date(2024, 10, 25)


def test_an_adjusted_working_saturday_counts() -> None:
    ack = CAL.due_date(local(2024, 10, 11, 16, 0), 1)
    assert ack == date(2024, 10, 12)
    assert ack.weekday() == 5


def test_the_local_date_decides_not_utc() -> None:
    # 17:30 UTC on 30 September is already 1 October in Shanghai.
    ack = CAL.due_date(datetime(2024, 9, 30, 17, 30, tzinfo=UTC), 1)
    assert ack == date(2024, 10, 8)


def test_years_chinese_calendar_does_not_know_fall_back_to_weekends_and_fixed_holidays() -> None:
    # 2099-09-30 is a Wednesday; 1–2 October (Thu, Fri) are statutory whatever the year,
    # 3–4 a weekend: the next working day is Monday 5 October.
    assert date(2099, 9, 30).weekday() == 2
    ack = CAL.due_date(local(2099, 9, 30, 9, 0), 1)
    assert ack == date(2099, 10, 5)


def test_office_can_add_the_published_schedule_for_an_unknown_year() -> None:
    calendar = WorkCalendar.from_config(
        {"EXTRA_HOLIDAYS": ["2099-10-06", "2099-10-07"], "EXTRA_WORKDAYS": ["2099-10-10"]}
    )
    # Monday 5 counts, Tuesday 6 and Wednesday 7 are now holidays, Thursday 8 counts.
    ack = calendar.due_date(local(2099, 9, 30, 9, 0), 2)
    assert ack == date(2099, 10, 8)
    ack = calendar.due_date(local(2099, 10, 9, 9, 0), 1)
    assert ack == date(2099, 10, 10)  # a Saturday made a working day


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2030, 12, 31)),
    st.integers(min_value=1, max_value=30),
)
def test_due_date_is_a_working_day_exactly_n_working_days_later(
    received: datetime, days: int
) -> None:
    moment = received.replace(tzinfo=UTC)
    due = CAL.due_date(moment, days)
    start = moment.astimezone(SHANGHAI).date()
    assert due > start
    assert CAL.is_workday(due)
    assert CAL.workdays_between(start, due) == days


def test_deadline_states() -> None:
    today = date(2024, 10, 14)  # Monday
    assert deadline_state("received", date(2024, 10, 11), today, CAL) == "overdue"
    assert deadline_state("in_progress", date(2024, 10, 15), today, CAL) == "due_soon"
    assert deadline_state("triaged", date(2024, 11, 15), today, CAL) == "open"
    for settled in ("replied", "closed", "referred", "spam", "duplicate"):
        assert deadline_state(settled, date(2024, 10, 1), today, CAL) is None
    assert ack_overdue("received", date(2024, 10, 11), today)
    assert not ack_overdue("triaged", date(2024, 10, 11), today)


# --- the digest ------------------------------------------------------------------------------


def _record(body: str, received: datetime) -> int:
    from portal.intake.service import Incoming, record_submission

    return record_submission(
        Incoming(channel="letter", body=body, notice=None, received_at=received)
    ).submission_id


def _assign(submission_id: int, user_id: int) -> None:
    from portal.intake.models import Submission

    submission = db.session.get(Submission, submission_id)
    submission.assignee_id = user_id
    db.session.commit()


def test_digest_mails_each_assignee_their_overdue_due_soon_and_open_items(
    app: Flask, runner: Any, make_user: Any
) -> None:
    alice, bob = make_user("triager"), make_user("triager")
    make_user("triager")  # nothing assigned: no mail
    now = datetime.now(UTC)
    with app.app_context():
        old = _record("很久以前的来信，已经超过答复期限。", now - timedelta(days=60))
        fresh = _record("昨天收到的来信，还在期限内。", now - timedelta(days=1))
        bobs = _record("分给另一位同事的来信。", now - timedelta(days=60))
        done = _record("已经办结的来信不应出现在提醒里。", now - timedelta(days=60))
        _assign(old, alice.id)
        _assign(fresh, alice.id)
        _assign(bobs, bob.id)
        _assign(done, alice.id)
        from portal.intake.models import Submission
        from portal.triage.workflow import change_status

        settled = db.session.get(Submission, done)
        change_status(settled, "triaged", actor="test")
        change_status(settled, "closed", actor="test", reason="已办结")
        db.session.commit()
        codes = {i: db.session.get(Submission, i).code for i in (old, fresh, bobs, done)}

    result = runner.invoke(args=["triage", "digest"])
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(args=["outbox", "list", "--json"]).output)
    digests = {m["to"]: m for m in listed if "每日待办" in m["subject"]}
    assert set(digests) == {alice.email, bob.email}
    assert "逾期1件" in digests[alice.email]["subject"]

    with app.app_context():
        from portal.outbox.models import OutboxMessage

        texts = {m.to: m.text for m in db.session.scalars(db.select(OutboxMessage))}
    alice_text = texts[alice.email]
    assert codes[old] in alice_text.split("【已逾期】")[1]
    assert codes[fresh] in alice_text
    assert codes[bobs] not in alice_text and codes[done] not in alice_text
    assert codes[bobs] in texts[bob.email]

    # Twice in one day: nobody gets a second mail.
    again = runner.invoke(args=["triage", "digest"])
    assert "0 digest(s) queued" in again.output
    listed = json.loads(runner.invoke(args=["outbox", "list", "--json"]).output)
    assert sum("每日待办" in m["subject"] for m in listed) == 2


def test_digest_rejects_a_bad_date(runner: Any) -> None:
    result = runner.invoke(args=["triage", "digest", "--date", "tomorrow"])
    assert result.exit_code != 0


@pytest.mark.parametrize("days", [1, 5])
def test_calendar_config_is_read_from_the_app(app: Flask, days: int) -> None:
    calendar = WorkCalendar.from_config(app.config)
    assert calendar.add_workdays(date(2024, 9, 30), days) > date(2024, 10, 7)


# --- the case loop (#17): paused clock, reminders, raised cases ------------------------------


def test_a_waiting_case_is_never_overdue() -> None:
    today = date(2024, 10, 14)
    assert deadline_state("waiting", date(2024, 10, 11), today, CAL) is None
    assert deadline_state("follow_up", date(2024, 10, 11), today, CAL) == "overdue"
    assert deadline_state("reopened", date(2024, 10, 15), today, CAL) == "due_soon"


def test_digest_reminds_reminder_workdays_ahead_lists_raised_and_due_today(
    app: Flask, make_user: Any
) -> None:
    from portal.intake.models import Submission
    from portal.outbox.models import OutboxMessage
    from portal.triage.deadlines import send_digests
    from portal.triage.workflow import change_status

    app.config["REMINDER_WORKDAYS"] = 4
    alice = make_user("triager")
    today = date(2024, 10, 14)  # Monday
    now = datetime.now(UTC)
    with app.app_context():
        ids = [_record(f"第{n}封来信，内容各不相同。", now) for n in range(3)]
        for sid in ids:
            _assign(sid, alice.id)
        rows = [db.session.get(Submission, sid) for sid in ids]
        rows[0].reply_due_on = date(2024, 10, 18)  # Friday: 4 working days ahead
        rows[1].reply_due_on = today  # the last day
        rows[2].reply_due_on = date(2024, 11, 29)
        change_status(rows[2], "replied", actor="test")
        change_status(rows[2], "follow_up", actor="submitter")
        codes = [r.code for r in rows]
        db.session.commit()
        send_digests(today)
        mails = db.session.scalars(db.select(OutboxMessage)).all()
        text = next(m.text for m in mails if m.to == alice.email)
    soon = text.split("【即将到期】")[1].split("【")[0]
    assert codes[0] in soon and codes[1] in soon  # with 2 working days, Friday would be "open"
    assert codes[1] in text.split("【今天到期】")[1]
    raised = text.split("【群众再次提出（新追问 / 不满意重办）】")[1].split("【")[0]
    assert codes[2] in raised and "新追问" in raised
    assert codes[0] not in raised
