"""Mail with several offices: each message lands in the office it is for, replies stay with their
office, unsure mail waits for the inspection office, and each office's staff see only their own
quarantined mail."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db
from portal.intake import office_routing
from portal.intake.mail.ingest import ingest
from portal.intake.mail.models import MailMessage
from portal.intake.mail.parse import parse_message
from portal.intake.mail.routing import OfficeRef, route_message
from portal.intake.models import FollowUp, Submission
from portal.intake.office_routing import OfficeGuess
from portal.outbox.models import OutboxMessage
from tests.conftest import csrf_token_from
from tests.fixtures.intake import MZ_EXE, TwoOffices

LIST = "/staff/mail/quarantine"
SHARED = "xunchaban@feedback.example"  # the shared mailbox's own address: no office's


def mail(
    body: str = "学校门口的护栏整改还没有完成，希望尽快处理。",
    *,
    subject: str = "对整改工作的意见",
    to: str = SHARED,
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
    sender: str = "citizen@example.cn",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"市民 <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Feb 2024 09:30:00 +0800"
    msg["Message-ID"] = make_msgid(domain="example.cn")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.fixture
def no_guesser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever triage registered, this test's mail is judged by headers and names only."""
    monkeypatch.setattr(office_routing, "_guessers", [])


def guesser(monkeypatch: pytest.MonkeyPatch, answer: OfficeGuess | None) -> list[str]:
    """Register a fake guesser answering ``answer``; returns the texts it was asked about."""
    asked: list[str] = []

    def fake(text: str, round_id: int | None) -> OfficeGuess | None:
        asked.append(text)
        return answer

    monkeypatch.setattr(office_routing, "_guessers", [fake])
    return asked


def recorded(app: Flask, raw: bytes, **kw: Any) -> Submission:
    with app.app_context():
        outcome = ingest(raw, **kw)
        assert outcome.kind == "recorded", outcome.line()
        submission = db.session.scalar(select(Submission).where(Submission.code == outcome.code))
        assert submission is not None
        db.session.expunge(submission)
        return submission


def mail_row(app: Flask, code: str | None = None) -> MailMessage:
    with app.app_context():
        query = select(MailMessage).order_by(MailMessage.id.desc())
        if code:
            query = query.where(MailMessage.code == code)
        row = db.session.scalar(query.limit(1))
        assert row is not None
        db.session.expunge(row)
        return row


# --- routing on the shared mailbox -------------------------------------------------------------


@pytest.mark.parametrize("header", ["To", "Cc", "Delivered-To", "X-Original-To"])
def test_an_office_address_routes_the_mail_to_that_office(
    app: Flask, two_offices: TwoOffices, no_guesser: None, header: str
) -> None:
    headers = {header: f"乙 <{two_offices.b_address.upper()}>"} if header != "To" else {}
    to = two_offices.b_address if header == "To" else SHARED
    submission = recorded(app, mail(to=to, headers=headers))
    assert submission.office_id == two_offices.b
    assert submission.notice_id == two_offices.b_notice_id  # B's newest published notice
    assert mail_row(app, submission.code).office_id == two_offices.b


def test_the_subject_or_first_line_naming_an_office_routes_it(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    by_subject = recorded(app, mail(subject="关于乙区卫生健康局整改的意见"))
    assert by_subject.office_id == two_offices.b
    by_short_name = recorded(app, mail(subject="反映甲教育的问题"))
    assert by_short_name.office_id == two_offices.a
    assert by_short_name.notice_id == two_offices.a_notice_id
    first_line = recorded(
        app, mail("致乙区卫生健康局：\n\n医院门口的整改没有落实。", subject="意见")
    )
    assert first_line.office_id == two_offices.b


def test_an_address_beats_a_name_in_the_subject(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    submission = recorded(app, mail(subject="抄送甲区教育局", to=two_offices.b_address))
    assert submission.office_id == two_offices.b


def test_a_confident_guess_routes_to_its_office_and_notice(
    app: Flask, two_offices: TwoOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = guesser(
        monkeypatch, OfficeGuess(two_offices.b, two_offices.b_notice_id, 0.9, confident=True)
    )
    submission = recorded(app, mail("医院挂号难的问题整改得怎么样了？", subject="咨询"))
    assert submission.office_id == two_offices.b
    assert submission.notice_id == two_offices.b_notice_id
    assert asked and "医院挂号难" in asked[0] and "咨询" in asked[0]


def test_an_unsure_guess_leaves_the_mail_unrouted_with_its_candidates(
    app: Flask, two_offices: TwoOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidates = ((two_offices.b, two_offices.b_notice_id, 0.4), (two_offices.a, None, 0.35))
    guesser(
        monkeypatch,
        OfficeGuess(two_offices.b, two_offices.b_notice_id, 0.4, False, candidates),
    )
    submission = recorded(app, mail("整改情况不理想。", subject="意见"))
    assert submission.office_id is None and submission.notice_id is None
    details = submission.channel_details or {}
    assert [(c["office_id"], c["notice_id"]) for c in details["office_candidates"]] == [
        (two_offices.b, two_offices.b_notice_id),
        (two_offices.a, None),
    ]
    assert mail_row(app, submission.code).office_id is None


def test_nothing_to_go_by_leaves_the_mail_unrouted(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    submission = recorded(app, mail("整改情况不理想。", subject="意见"))
    assert submission.office_id is None and submission.notice_id is None
    assert (submission.channel_details or {}).get("office_candidates") == []


def test_a_failing_guesser_does_not_lose_the_mail(
    app: Flask, two_offices: TwoOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str, round_id: int | None) -> OfficeGuess | None:
        raise RuntimeError("router data missing")

    monkeypatch.setattr(office_routing, "_guessers", [broken])
    submission = recorded(app, mail("整改情况不理想。", subject="意见"))
    assert submission.office_id is None


def test_two_offices_named_is_unsure(app: Flask, two_offices: TwoOffices, no_guesser: None) -> None:
    submission = recorded(app, mail(subject="甲区教育局和乙区卫生健康局都没有整改"))
    assert submission.office_id is None
    offices = {c["office_id"] for c in (submission.channel_details or {})["office_candidates"]}
    assert offices == {two_offices.a, two_offices.b}


def test_an_inactive_office_is_never_routed_to(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    from portal.offices.models import Office

    with app.app_context():
        office = db.session.get(Office, two_offices.b)
        assert office is not None
        office.active = False
        db.session.commit()
    submission = recorded(app, mail(to=two_offices.b_address))
    # Only the default office is active: mail behaves as before offices existed.
    assert submission.office_id == two_offices.a


def test_mail_from_an_office_mailbox_is_that_office_s(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    submission = recorded(
        app, mail(to=two_offices.a_address, subject="甲区教育局"), office_id=two_offices.b
    )
    assert submission.office_id == two_offices.b
    assert submission.notice_id == two_offices.b_notice_id


@pytest.mark.config(MAIL_NOTICE_SLUG="dongguan-2024")
def test_mail_notice_slug_applies_to_the_default_office_only(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    to_b = recorded(app, mail(to=two_offices.b_address))
    assert to_b.notice_id == two_offices.b_notice_id
    to_a = recorded(app, mail(to=two_offices.a_address))
    assert to_a.notice_id == two_offices.a_notice_id


def test_acknowledgement_names_the_office(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    submission = recorded(app, mail(to=two_offices.b_address))
    unrouted = recorded(app, mail("整改情况不理想。", subject="意见", sender="other@example.cn"))
    with app.app_context():
        texts = {
            row.submission_code: row.text
            for row in db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ack"))
        }
    assert f"承办单位：{two_offices.b_name}" in texts[submission.code]
    assert two_offices.a_name not in texts[submission.code]
    assert "由巡察办确定承办单位" in texts[unrouted.code]


# --- replies stay with their office --------------------------------------------------------------


def test_a_reply_stays_with_its_office_whatever_mailbox_it_reaches(
    app: Flask, two_offices: TwoOffices, no_guesser: None
) -> None:
    original = recorded(app, mail(to=two_offices.b_address))
    by_code = mail(
        "补充：护栏在学校门口东侧。",
        subject=f"Re: [#{original.code}] 您的意见已收到",
        to=two_offices.a_address,
    )
    with app.app_context():
        ack_id = db.session.scalar(
            select(OutboxMessage.message_id).where(OutboxMessage.submission_code == original.code)
        )
        assert ingest(by_code).line() == f"threaded {original.code}"
        # Answering our acknowledgement (no code in the subject), in office A's own mailbox.
        answer = mail("再补充：晚上施工。", subject="Re: 您的意见已收到", headers={
            "In-Reply-To": str(ack_id)})  # fmt: skip
        assert ingest(answer, office_id=two_offices.a).line() == f"threaded {original.code}"
        follow_ups = db.session.scalars(select(FollowUp)).all()
        assert {f.submission_id for f in follow_ups} == {original.id}
        rows = db.session.scalars(select(MailMessage).where(MailMessage.outcome == "threaded"))
        assert {r.office_id for r in rows} == {two_offices.b}
        assert db.session.get(Submission, original.id).office_id == two_offices.b  # type: ignore[union-attr]


# --- the command line ----------------------------------------------------------------------------


def test_ingest_command_takes_an_office(
    app: Flask, two_offices: TwoOffices, runner: FlaskCliRunner, tmp_path: Path, no_guesser: None
) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(mail(to=two_offices.a_address))
    result = runner.invoke(args=["mail", "ingest", "--office", two_offices.b_slug, str(path)])
    assert result.exit_code == 0, result.output
    kind, code = result.output.strip().split(" ")
    assert kind == "recorded"
    with app.app_context():
        assert (
            db.session.scalar(select(Submission.office_id).where(Submission.code == code))
            == two_offices.b
        )

    unknown = runner.invoke(args=["mail", "ingest", "--office", "nope", str(path)])
    assert unknown.exit_code == 2 and "nope" in unknown.output


# --- the quarantine, office by office ------------------------------------------------------------


def quarantined_mail(app: Flask, **kw: Any) -> int:
    raw = mail("举报材料见附件。", attachments=(("病毒.pdf", MZ_EXE, "application/pdf"),), **kw)
    with app.app_context():
        outcome = ingest(raw)
        assert outcome.kind == "quarantined", outcome.line()
        row = db.session.scalar(select(MailMessage).order_by(MailMessage.id.desc()))
        assert row is not None
        return row.id


@pytest.fixture
def quarantine_of(app: Flask, two_offices: TwoOffices, no_guesser: None) -> dict[str, int]:
    return {
        "a": quarantined_mail(app, to=two_offices.a_address, subject="甲的隔离邮件"),
        "b": quarantined_mail(app, to=two_offices.b_address, subject="乙的隔离邮件"),
        "none": quarantined_mail(app, subject="不知给谁的隔离邮件"),
    }


def post(client: Any, url: str) -> Any:
    token = csrf_token_from(client.get("/staff/account").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


def test_a_triager_sees_and_handles_only_its_office_s_mail(
    app: Flask, staff_login: Any, make_user: Any, quarantine_of: dict[str, int]
) -> None:
    client = staff_login(user=make_user("triager", offices=["main"]))
    listing = client.get(LIST).get_data(as_text=True)
    assert "甲的隔离邮件" in listing
    assert "乙的隔离邮件" not in listing and "不知给谁" not in listing
    for other in (quarantine_of["b"], quarantine_of["none"]):
        for suffix in ("", "/raw"):
            assert client.get(f"{LIST}/{other}{suffix}").status_code == 404
        for action in ("release", "delete"):
            assert post(client, f"{LIST}/{other}/{action}").status_code == 404
    response = post(client, f"{LIST}/{quarantine_of['a']}/release")
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(MailMessage, quarantine_of["a"])
        assert row is not None and row.release_state == "released"
        submission = db.session.scalar(select(Submission).where(Submission.code == row.code))
        assert submission is not None and submission.office_id == row.office_id
        assert submission.status == "held"
        for other in (quarantine_of["b"], quarantine_of["none"]):
            assert db.session.get(MailMessage, other).release_state == "pending"  # type: ignore[union-attr]


def test_the_supervisor_reads_every_office_s_mail_but_does_not_handle_it(
    app: Flask, staff_login: Any, quarantine_of: dict[str, int]
) -> None:
    client = staff_login("supervisor")
    listing = client.get(LIST).get_data(as_text=True)
    for subject in ("甲的隔离邮件", "乙的隔离邮件", "不知给谁的隔离邮件"):
        assert subject in listing
    assert "待分派" in listing and "/release" not in listing and "/raw" not in listing
    assert client.get(f"{LIST}/{quarantine_of['none']}").status_code == 200
    assert client.get(f"{LIST}/{quarantine_of['b']}/raw").status_code == 403
    for action in ("release", "delete"):
        assert post(client, f"{LIST}/{quarantine_of['b']}/{action}").status_code == 403
    with app.app_context():
        states = {db.session.get(MailMessage, i).release_state for i in quarantine_of.values()}  # type: ignore[union-attr]
    assert states == {"pending"}


def test_admin_releases_unrouted_mail_as_unrouted(
    app: Flask, staff_login: Any, quarantine_of: dict[str, int]
) -> None:
    client = staff_login("admin")
    assert post(client, f"{LIST}/{quarantine_of['none']}/release").status_code == 302
    with app.app_context():
        row = db.session.get(MailMessage, quarantine_of["none"])
        assert row is not None and row.release_state == "released"
        submission = db.session.scalar(select(Submission).where(Submission.code == row.code))
        assert submission is not None and submission.office_id is None


# --- routing never fails on what arrives ----------------------------------------------------------

OFFICES = (
    OfficeRef(1, "甲区教育局", "甲教育", ("jiao@feedback.example",)),
    OfficeRef(2, "乙区卫生健康局", "乙卫健", ("weijian@feedback.example", "x@y")),
    OfficeRef(3, "丙", "", ()),  # a one-character name is never matched
)


def _flaky_guess(text: str) -> OfficeGuess | None:
    if "boom" in text:
        raise ValueError("boom")
    if "guess" in text:
        return OfficeGuess(len(text) % 5, None, 0.9, confident=True, candidates=((9, 1, 0.1),))
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    to=st.binary(max_size=120),
    cc=st.binary(max_size=80),
    delivered=st.binary(max_size=80),
    original=st.binary(max_size=80),
    subject=st.binary(max_size=120),
    body=st.binary(max_size=200),
)
def test_routing_never_raises_on_arbitrary_headers(
    to: bytes, cc: bytes, delivered: bytes, original: bytes, subject: bytes, body: bytes
) -> None:
    raw = (
        b"From: a@example.cn\r\nTo: " + to + b"\r\nCc: " + cc + b"\r\nDelivered-To: " + delivered
        + b"\r\nX-Original-To: " + original + b"\r\nSubject: " + subject + b"\r\n\r\n" + body
    )  # fmt: skip
    parsed = parse_message(raw)
    route = route_message(
        recipients=[*parsed.delivered_to, *parsed.to],
        subject=parsed.subject,
        body=parsed.text,
        offices=OFFICES,
        guess=_flaky_guess,
    )
    known = {o.id for o in OFFICES}
    assert route.office_id is None or route.office_id in known
    assert all(c.office_id in known for c in route.candidates)
    if route.office_id is None:
        assert "office_candidates" in (route.channel_details() or {})


@given(
    recipients=st.lists(st.text(max_size=60), max_size=5),
    subject=st.text(max_size=80),
    body=st.text(max_size=200),
)
def test_routing_of_any_text_names_a_known_office_or_none(
    recipients: list[str], subject: str, body: str
) -> None:
    route = route_message(
        recipients=recipients, subject=subject, body=body, offices=OFFICES, guess=_flaky_guess
    )
    assert route.office_id in {None, 1, 2, 3}
    owners = {address: o.id for o in OFFICES for address in o.addresses}
    keys = [r.strip().strip("<>").strip().lower() for r in recipients]
    first = next((owners[k] for k in keys if k in owners), None)
    if first is not None:  # an office's address always decides, the first one listed
        assert route.office_id == first and route.how == "address"
