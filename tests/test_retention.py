"""Retention: `flask submissions purge` erases who complained, keeps what was complained about."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, inspect, select, update

from portal.audit import Event
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake.mail.ingest import ingest
from portal.intake.mail.models import MailMessage
from portal.intake.models import Attachment, Submission
from portal.intake.retention import NEUTRAL_DETAIL_KEYS, purge
from portal.intake.service import Contact, Incoming, IncomingFile, record_submission
from portal.outbox.models import OutboxMessage

BODY = "第三项问题的整改情况与实际不符，窗口仍然要求重复提交材料。"
SCAN = b"scan of an identity card " * 40


def _record(notice: Any, **overrides: Any) -> int:
    kwargs: dict[str, Any] = {
        "channel": "web",
        "body": BODY,
        "notice": notice,
        "findings": [1],
        "contact": Contact(name="李明", phone="13812341234", email="li.ming@example.com"),
        "consent": True,
        "attachments": [IncomingFile("身份证.txt", SCAN, "text/plain")],
    }
    kwargs.update(overrides)
    return record_submission(Incoming(**kwargs)).submission_id


def _close(submission_id: int, days_ago: float, status: str = "closed") -> None:
    """Mark the submission closed that long ago (a status change row when triage has one)."""
    when = datetime.now(UTC) - timedelta(days=days_ago)
    db.session.execute(
        update(Submission)
        .where(Submission.id == submission_id)
        .values(status=status, updated_at=when)
    )
    changes = db.metadata.tables.get("status_changes")
    if changes is not None and inspect(db.session.get_bind()).has_table("status_changes"):
        db.session.execute(
            insert(changes).values(
                submission_id=submission_id, old="replied", new=status, actor="test", at=when
            )
        )
    db.session.commit()


def personal_fields_left(submission: Submission) -> list[str]:
    """Names of the personal fields still set on a submission."""
    names = (
        "contact_name",
        "contact_phone",
        "contact_email",
        "contact_address",
        "sender_email",
        "sender_hash",
        "body_html",
    )
    left = [name for name in names if getattr(submission, name) is not None]
    details = submission.channel_details or {}
    left += [f"channel_details.{k}" for k in details if k not in NEUTRAL_DETAIL_KEYS]
    return left


def _purge_events() -> list[Event]:
    return list(
        db.session.scalars(
            select(Event).where(Event.action == "submissions.purge").order_by(Event.seq)
        )
    )


def test_purge_erases_personal_data_and_keeps_statistics(
    app: Flask, notice: Any, runner: FlaskCliRunner
) -> None:
    old = _record(notice)
    _close(old, days_ago=400)
    path = files.path_for(db.session.get(Submission, old).attachments[0].sha256)
    before = db.session.get(Submission, old)
    kept = (before.code, before.channel, before.received_at, before.finding_numbers, before.body)
    db.session.remove()

    result = runner.invoke(args=["submissions", "purge", "--older-than", "365"])
    assert result.exit_code == 0, result.output
    assert "purged 1 submissions" in result.output

    after = db.session.get(Submission, old)
    assert personal_fields_left(after) == []
    assert after.attachments == []
    assert not path.exists(), "the scan of the identity card is still on disk"
    assert (after.code, after.channel, after.received_at, after.finding_numbers, after.body) == kept
    assert after.status == "closed"
    shown = json.loads(runner.invoke(args=["submissions", "show", after.code, "--json"]).output)
    assert shown["sender_email"] is None and shown["attachments"] == []
    outbox = db.session.scalars(select(OutboxMessage).where(OutboxMessage.submission_id == old))
    assert all(row.to == "" and "李明" not in row.text for row in outbox)

    events = _purge_events()
    assert len(events) == 1
    assert events[0].details["submissions"] == 1 and events[0].details["attachments"] == 1
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_open_and_recent_submissions_are_untouched(
    app: Flask, notice: Any, runner: FlaskCliRunner
) -> None:
    recent = _record(notice)
    _close(recent, days_ago=10)
    still_open = _record(notice, attachments=[])
    _close(still_open, days_ago=900, status="in_progress")
    db.session.remove()

    result = runner.invoke(args=["submissions", "purge", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    for submission_id in (recent, still_open):
        row = db.session.get(Submission, submission_id)
        assert row.contact_name == "李明" and row.contact_email == "li.ming@example.com"
    assert len(db.session.get(Submission, recent).attachments) == 1


def test_shared_file_survives_and_second_run_changes_nothing(app: Flask, notice: Any) -> None:
    old = _record(notice)
    twin = _record(notice)  # same scan, still being handled
    _close(old, days_ago=100)
    sha = db.session.get(Submission, twin).attachments[0].sha256

    first = purge(30)
    assert (first.submissions, first.attachments, first.files_removed) == (1, 1, 0)
    assert first.files_still_shared == 1
    assert files.path_for(sha).exists(), "a file still used by another submission was deleted"

    second = purge(30)
    assert (second.submissions, second.attachments, second.files_removed) == (0, 0, 0)
    assert len(_purge_events()) == 2, "every run is accounted for in the audit log"
    assert db.session.scalar(select(Attachment.id).where(Attachment.sha256 == sha)) is not None


def test_channel_details_keep_only_what_is_not_personal(app: Flask, notice: Any) -> None:
    sid = _record(
        notice,
        channel="phone",
        contact=None,
        consent=False,
        attachments=[],
        channel_details={"number": "13900001111", "called_at": "2024-01-01T09:00"},
    )
    _close(sid, days_ago=50)
    purge(30)
    row = db.session.get(Submission, sid)
    assert row.channel_details == {"called_at": "2024-01-01T09:00"}
    assert purge(30).submissions == 0, "neutral details left must not count as personal data"


def test_mail_copies_are_erased(app: Flask, notice: Any) -> None:
    raw = (
        "From: 王五 <wang@example.com>\r\nTo: feedback@portal.example\r\nSubject: 意见\r\n"
        "Message-ID: <m1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + BODY
    ).encode()
    outcome = ingest(raw)
    assert outcome.kind == "recorded"
    sid = db.session.scalar(select(Submission.id).where(Submission.code == outcome.code))
    assert sid is not None
    _close(sid, days_ago=50)
    assert purge(30).mail_messages == 1
    row = db.session.get(Submission, sid)
    assert row.sender_email is None and row.sender_hash is None
    mail = db.session.scalars(select(MailMessage)).one()
    assert (mail.raw, mail.sender, mail.subject) == (None, None, None)
    assert purge(30).submissions == 0


def test_a_mail_copy_alone_makes_a_submission_due(app: Flask, notice: Any) -> None:
    # A message whose From address was unusable: only its raw copy holds who sent it.
    raw = (
        "From: not an address\r\nSubject: 意见\r\nMessage-ID: <m2@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY
    ).encode()
    outcome = ingest(raw)
    assert outcome.kind == "recorded"
    sid = db.session.scalar(select(Submission.id).where(Submission.code == outcome.code))
    assert sid is not None
    assert personal_fields_left(db.session.get(Submission, sid)) == []
    _close(sid, days_ago=50)
    assert purge(30).submissions == 1
    assert db.session.scalars(select(MailMessage.raw)).one() is None


@pytest.mark.config(RETENTION_DAYS=20)
def test_default_limit_comes_from_config(app: Flask, notice: Any, runner: FlaskCliRunner) -> None:
    sid = _record(notice, attachments=[])
    _close(sid, days_ago=25)
    result = runner.invoke(args=["submissions", "purge"])
    assert result.exit_code == 0, result.output
    assert db.session.get(Submission, sid).contact_name is None


def test_include_text_blanks_the_body(app: Flask, notice: Any) -> None:
    sid = _record(notice, attachments=[])
    _close(sid, days_ago=50)
    purge(30, include_text=True)
    assert BODY not in db.session.get(Submission, sid).body


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    limit=st.integers(min_value=0, max_value=2000),
    ages=st.lists(
        st.tuples(st.sampled_from(["closed", "replied", "closed"]), st.integers(0, 3000)),
        min_size=1,
        max_size=4,
    ),
)
def test_purged_exactly_when_closed_longer_than_the_limit(
    app: Flask, notice: Any, limit: int, ages: list[tuple[str, int]]
) -> None:
    made = []
    for status, age in ages:
        sid = _record(notice, attachments=[])
        # Half a day off the boundary: the outcome must not depend on the seconds the test takes.
        _close(sid, days_ago=age + (0.5 if age >= limit else -0.5), status=status)
        made.append((sid, status, age))
    purge(limit)
    for sid, status, age in made:
        erased = db.session.get(Submission, sid).contact_name is None
        assert erased == (status == "closed" and age >= limit), (status, age, limit)
