"""Staff quarantine of inbound mail: list, read safely, download, release, delete."""

from __future__ import annotations

import html
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal import audit
from portal.audit import Event
from portal.extensions import db
from portal.intake.mail.ingest import ingest
from portal.intake.mail.models import MailMessage
from portal.intake.models import Submission
from tests.conftest import csrf_token_from
from tests.fixtures.intake import MZ_EXE, gen_pdf, stored_files
from tests.test_mail_ingest import citizen_mail, raw_copies

LIST = "/staff/mail/quarantine"


def quarantine(app: Flask, raw: bytes) -> int:
    with app.app_context():
        outcome = ingest(raw)
        assert outcome.kind == "quarantined", outcome.line()
        row = db.session.scalar(select(MailMessage).order_by(MailMessage.id.desc()))
        assert row is not None
        return row.id


def refused_mail() -> bytes:
    return citizen_mail(
        "举报材料见附件<script>alert(1)</script>，请核查。",
        subject="关于违规停车的举报",
        sender="zhangsan@example.cn",
        attachments=(
            ("病毒.pdf", MZ_EXE, "application/pdf"),
            ("现场.pdf", gen_pdf(), "application/pdf"),
        ),
    )


def post(client: Any, url: str, page: str = LIST) -> Any:
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


def events(app: Flask, action: str) -> list[Event]:
    with app.app_context():
        return list(db.session.scalars(select(Event).where(Event.action == action)))


def test_list_and_show_are_masked_and_escaped(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    message_id = quarantine(app, refused_mail())
    client = staff_login("triager")
    page = client.get(LIST)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "关于违规停车的举报" in text
    assert "z***@example.cn" in text and "zhangsan@example.cn" not in text
    assert "attachment refused" in text and "病毒.pdf" in text
    assert page.headers["Cache-Control"] == "no-store"

    shown = client.get(f"{LIST}/{message_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in shown
    assert html.escape("<script>alert(1)</script>") in shown
    assert "现场.pdf" in shown and "病毒.pdf" in shown


def test_raw_download_is_an_attachment_and_not_sniffed(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    raw = refused_mail()
    message_id = quarantine(app, raw)
    response = staff_login("triager").get(f"{LIST}/{message_id}/raw")
    assert response.status_code == 200
    assert response.data == raw
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(events(app, "mail.download")) == 1


def test_release_records_held_submission_keeping_refused_files_in_the_mail(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    raw = refused_mail()
    message_id = quarantine(app, raw)
    client = staff_login("triager")
    response = post(client, f"{LIST}/{message_id}/release")
    assert response.status_code == 302
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        assert submission is not None
        assert submission.status == "held" and submission.channel == "email"
        assert [a.filename for a in submission.attachments] == ["现场.pdf"]
        assert "病毒.pdf" in (submission.hold_reason or "")
        code = submission.code
        # The quarantined row now points to the submission and keeps the only copy of the raw
        # mail, refused file included.
        row = db.session.get(MailMessage, message_id)
        assert row is not None
        assert (row.release_state, row.code, row.submission_id) == ("released", code, submission.id)
        assert raw_copies(raw) == ["mail_messages.raw"]
    after = client.get(response.location).get_data(as_text=True)
    assert code in after  # the flash names the new receipt code
    assert "关于违规停车的举报" not in after
    assert len(events(app, "mail.release")) == 1
    with app.app_context():
        # Delivered again later, it is the same submission.
        assert ingest(raw).line() == f"duplicate {code}"


def test_a_failed_release_records_nothing(
    app: Flask, staff_login: Any, published_notice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id = quarantine(app, refused_mail())
    client = staff_login("triager")
    real_record = audit.record

    def audit_down(action: str, **kwargs: Any) -> Any:
        if action == "mail.release":
            raise OperationalError("INSERT INTO events", {}, Exception("database is locked"))
        return real_record(action, **kwargs)

    monkeypatch.setattr(audit, "record", audit_down)
    # The site's "database unavailable, nothing was recorded, try again" page.
    assert post(client, f"{LIST}/{message_id}/release").status_code == 503
    monkeypatch.undo()
    with app.app_context():
        # The release is one transaction: no submission while the mail still waits as pending.
        assert db.session.scalar(select(func.count(Submission.id))) == 0
        assert db.session.get(MailMessage, message_id).release_state == "pending"  # type: ignore[union-attr]
        assert stored_files(app) == []
    assert post(client, f"{LIST}/{message_id}/release").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Submission.status)) == "held"


def test_release_of_undecodable_mail_keeps_it_held(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    raw = (
        b"From: a@example.cn\r\nSubject: =?utf-8?B?5Lmx56CB?=\r\n"
        b"Message-ID: <junk-1@example.cn>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!!****\r\n"
    )
    message_id = quarantine(app, raw)
    assert post(staff_login("admin"), f"{LIST}/{message_id}/release").status_code == 302
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        assert submission is not None and submission.status == "held"


def test_delete_drops_the_content_and_keeps_it_from_returning(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    raw = refused_mail()
    message_id = quarantine(app, raw)
    client = staff_login("triager")
    assert client.post(f"{LIST}/{message_id}/delete").status_code == 400  # no CSRF token
    assert post(client, f"{LIST}/{message_id}/delete").status_code == 302
    with app.app_context():
        row = db.session.get(MailMessage, message_id)
        assert row is not None and row.raw is None and row.sender is None
        assert ingest(raw).line() == "ignored deleted by staff"
    assert client.get(f"{LIST}/{message_id}").status_code == 404
    assert client.get(f"{LIST}/{message_id}/raw").status_code == 404
    assert len(events(app, "mail.delete")) == 1


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_lower_roles_are_refused(
    app: Flask, staff_login: Any, role: str, published_notice: str
) -> None:
    message_id = quarantine(app, refused_mail())
    client = staff_login(role)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}/{message_id}").status_code == 403
    assert client.get(f"{LIST}/{message_id}/raw").status_code == 403
    token = csrf_token_from(client.get("/staff/account").get_data(as_text=True))
    assert client.post(f"{LIST}/{message_id}/delete", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.get(MailMessage, message_id).release_state == "pending"  # type: ignore[union-attr]


def test_anonymous_is_sent_to_login(app: Flask, client: Any) -> None:
    response = client.get(LIST)
    assert response.status_code == 302 and "/staff/login" in response.location
