"""Outbox: acknowledgements delivered through a real SMTP server, retries, exactly once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text, update

from portal.extensions import db
from portal.intake.service import Contact, Incoming, Receipt, record_submission
from portal.outbox import enqueue
from portal.outbox.models import OutboxMessage
from portal.outbox.send import MAX_ATTEMPTS, backoff, send_due
from tests.fixtures.smtp import SmtpServer


@pytest.fixture
def app_config(mail_app_config: dict[str, Any]) -> dict[str, Any]:
    return mail_app_config


def submit(notice: Any, email: str = "citizen@example.com", **kw: Any) -> Receipt:
    return record_submission(
        Incoming(
            channel="web",
            body="第十三项整改不到位，请核实并答复。",
            notice=notice,
            contact=Contact(email=email),
            consent=True,
            **kw,
        )
    )


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_maintype() == "text"
    }


def make_due_now() -> None:
    """Skip the backoff wait, as if its time had passed."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    db.session.execute(update(OutboxMessage).values(next_attempt_at=past))
    db.session.commit()


def test_ack_arrives_with_threading_and_auto_reply_headers(
    app: Flask, notice: Any, runner: Any, smtp_server: SmtpServer
) -> None:
    receipt = submit(notice)
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output

    (received,) = smtp_server.received
    assert received.rcpt_tos == ["citizen@example.com"]
    message = received.message
    assert message["Subject"] == f"[#{receipt.code}] 您的意见已收到"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    row = db.session.scalars(select(OutboxMessage)).one()
    assert message["Message-ID"] == row.message_id
    assert row.message_id.startswith(f"<ack-{receipt.code}-")
    assert row.message_id.endswith("@portal.invalid>")

    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    for body in bodies.values():
        assert receipt.code in body
        assert "工作日" in body and "/track" in body
    assert 'lang="zh-CN"' in bodies["text/html"]
    # The secret never travels by mail, in any encoding.
    assert receipt.secret not in received.raw.decode("ascii", "replace")
    assert all(receipt.secret not in body for body in bodies.values())
    assert row.status == "sent" and row.sent_at is not None


def test_smtp_down_keeps_rows_then_delivers_each_exactly_once(
    app: Flask, notice: Any, runner: Any, smtp_server: SmtpServer
) -> None:
    receipts = [submit(notice, email=f"p{i}@example.com") for i in range(3)]
    smtp_server.stop()

    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0
    assert "sent 0, failed 3" in result.output
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert {r.status for r in rows} == {"failed"}
    assert all(r.attempts == 1 and r.last_error for r in rows)
    assert "Connection refused" in rows[0].last_error or "Errno" in rows[0].last_error
    assert all(r.next_attempt_at.replace(tzinfo=UTC) > datetime.now(UTC) for r in rows)
    listed = json.loads(runner.invoke(args=["outbox", "list", "--json"]).output)
    assert [item["status"] for item in listed] == ["failed"] * 3
    assert [item["submission_code"] for item in listed] == [r.code for r in receipts]

    smtp_server.start()
    # Not due yet: the backoff is respected even though the server is back.
    assert "sent 0, failed 0" in runner.invoke(args=["outbox", "send"]).output
    assert smtp_server.received == []

    make_due_now()
    assert "sent 3" in runner.invoke(args=["outbox", "send"]).output
    make_due_now()
    assert "sent 0, failed 0" in runner.invoke(args=["outbox", "send"]).output
    subjects = sorted(m["Subject"] for m in smtp_server.messages())
    assert subjects == sorted(f"[#{r.code}] 您的意见已收到" for r in receipts)
    listed = json.loads(runner.invoke(args=["outbox", "list", "--json"]).output)
    assert {item["status"] for item in listed} == {"sent"}
    assert {item["to"] for item in listed} == {f"p{i}@example.com" for i in range(3)}


def test_parallel_senders_never_send_a_row_twice(
    app: Flask, notice: Any, smtp_server: SmtpServer
) -> None:
    for i in range(24):
        enqueue(to=f"r{i}@example.com", subject=f"测试 {i}", text="正文", kind="notice")
    db.session.commit()

    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            try:
                while send_due(limit=4).claimed:
                    pass
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    subjects = [m["Subject"] for m in smtp_server.messages()]
    assert sorted(subjects) == sorted(f"测试 {i}" for i in range(24))
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(select(OutboxMessage))} == {"sent"}


def test_a_row_being_sent_is_retried_only_after_its_lease(
    app: Flask, notice: Any, smtp_server: SmtpServer
) -> None:
    submit(notice)
    now = datetime.now(UTC)
    db.session.execute(
        update(OutboxMessage).values(
            status="sending", attempts=1, lease_until=now + timedelta(minutes=5)
        )
    )
    db.session.commit()
    assert send_due().claimed == 0
    assert smtp_server.received == []

    db.session.execute(update(OutboxMessage).values(lease_until=now - timedelta(seconds=1)))
    db.session.commit()
    report = send_due()
    assert report.sent == 1
    row = db.session.scalars(select(OutboxMessage)).one()
    assert smtp_server.messages()[0]["Message-ID"] == row.message_id
    assert row.attempts == 2


def test_backoff_grows_to_six_hours_and_rows_die_after_ten_attempts(
    app: Flask, notice: Any, smtp_server: SmtpServer
) -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (2, 4, 8)]
    assert backoff(8) == timedelta(minutes=256)
    assert backoff(9) == timedelta(hours=6)  # 512 minutes, capped
    assert backoff(30) == timedelta(hours=6)

    submit(notice)
    smtp_server.stop()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        make_due_now()
        report = send_due()
        row = db.session.scalars(select(OutboxMessage)).one()
        assert row.attempts == attempt
        expected = "dead" if attempt == MAX_ATTEMPTS else "failed"
        assert row.status == expected, (attempt, row.status)
    make_due_now()
    assert send_due().claimed == 0
    assert report.dead == 1


def test_rejected_recipient_fails_only_that_row(
    app: Flask, notice: Any, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue(to="good@example.com", subject="一", text="正文", kind="notice")
    enqueue(to="bad@example.com", subject="二", text="正文", kind="notice")
    db.session.commit()
    import smtplib

    real_sendmail = smtplib.SMTP.sendmail

    def picky(self: smtplib.SMTP, from_addr: str, to_addrs: Any, msg: Any, *a: Any, **k: Any):
        if "bad@example.com" in to_addrs:
            raise smtplib.SMTPRecipientsRefused({"bad@example.com": (550, b"no such user")})
        return real_sendmail(self, from_addr, to_addrs, msg, *a, **k)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", picky)
    report = send_due()
    assert (report.sent, report.failed) == (1, 1)
    statuses = {r.to: r.status for r in db.session.scalars(select(OutboxMessage))}
    assert statuses == {"good@example.com": "sent", "bad@example.com": "failed"}


def test_staff_mail_is_not_marked_automatic_and_outbox_rows_are_encrypted(
    app: Flask, notice: Any
) -> None:
    message = enqueue(to="x@example.com", subject="答复", text="李明同志：您好", kind="reply")
    db.session.commit()
    assert message.auto_submitted is None
    assert message.message_id.startswith("<reply-")
    raw = db.session.execute(text('SELECT "to", text FROM outbox')).one()
    assert "x@example.com" not in str(raw) and "李明" not in str(raw)


def test_no_ack_without_an_address(app: Flask, notice: Any) -> None:
    record_submission(
        Incoming(
            channel="web", body="匿名提交的意见，没有联系方式。", notice=notice, anonymous=True
        )
    )
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_a_message_with_a_bad_header_fails_alone(
    app: Flask, notice: Any, smtp_server: SmtpServer
) -> None:
    enqueue(to="a@example.com", subject="注入\nBcc: victim@example.com", text="x", kind="reply")
    enqueue(to="b@example.com", subject="正常", text="x", kind="reply")
    db.session.commit()
    report = send_due()
    assert (report.sent, report.failed) == (1, 1)
    assert [m["Subject"] for m in smtp_server.messages()] == ["正常"]
    assert all("victim" not in str(r.rcpt_tos) for r in smtp_server.received)
