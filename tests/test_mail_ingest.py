"""`flask mail ingest`: raw mail through the one door, as an MTA pipe would feed it."""

from __future__ import annotations

import json
import re
import zlib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import OperationalError

from portal.audit import Event
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake.mail.ingest import ingest
from portal.intake.mail.models import MailMessage, open_raw
from portal.intake.mail.parse import parse_message
from portal.intake.models import Attachment, FollowUp, Submission
from portal.outbox.models import OutboxMessage
from portal.personal_data import PersonalDataKeyError
from tests.fixtures.intake import MZ_EXE, gen_pdf, stored_files

CORPUS_DIR = Path(__file__).parent / "data" / "mail"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS_DIR / "expected.json").read_text(encoding="utf-8")
)
CORPUS = {name: (CORPUS_DIR / name).read_bytes() for name in sorted(EXPECTED)}
EX_TEMPFAIL = 75
CODE = r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"
# What `flask mail ingest` may print (DESIGN.md: MTAs and scripts rely on it).
LINE_RE = re.compile(
    rf"^(?:(?:recorded|threaded|duplicate) {CODE}|(?:ignored|quarantined) \S[^\n]*)$"
)


def citizen_mail(
    body: str = "东城路段的整改还没有完成，希望尽快处理。",
    *,
    subject: str = "对整改工作的意见",
    sender: str = "citizen@example.cn",
    message_id: str | None = "auto",
    charset: str = "utf-8",
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"市民 <{sender}>"
    msg["To"] = "feedback@portal.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Feb 2024 09:30:00 +0800"
    if message_id == "auto":
        msg["Message-ID"] = make_msgid(domain="example.cn")
    elif message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, charset=charset)
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def run_ingest(runner: FlaskCliRunner, raw: bytes, tmp_path: Path) -> Any:
    path = tmp_path / f"msg-{len(list(tmp_path.glob('msg-*')))}.eml"
    path.write_bytes(raw)
    return runner.invoke(args=["mail", "ingest", str(path)])


def one_line(result: Any) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert LINE_RE.match(lines[0]), lines[0]
    return lines[0]


def code_of(line: str) -> str:
    return line.split(" ", 1)[1]


def expected_kind(name: str) -> tuple[str, str | None]:
    """What the corpus says a careful clerk does with this message."""
    want = EXPECTED[name]
    if want["quarantine"]:
        return "quarantined", None
    reason = want["auto_reason"]
    if reason is not None:
        if want["bounced_ids"] or reason in ("bounce", "postmaster", "mailer-daemon"):
            return "ignored", "bounce"
        return "ignored", "auto-reply"
    parsed = parse_message(CORPUS[name])
    # Only executable or hidden content holds a whole message; a harmless refused part (a
    # broken picture, winmail.dat) is set aside and the opinion recorded (#16).
    for attachment in parsed.attachments:
        found = files.detect(attachment.data)
        if (
            found.refused in ("exe", "elf", "macho", "script", "macro")
            or found.problem == "polyglot"
        ):
            return "quarantined", "attachment refused"
    return "recorded", None


def test_corpus_outcomes(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    mismatches = []
    for name, raw in CORPUS.items():
        line = one_line(run_ingest(runner, raw, tmp_path))
        kind, reason = expected_kind(name)
        if not line.startswith(kind + " ") or (reason and reason not in line):
            mismatches.append(f"{name}: got {line!r}, want {kind} {reason or ''}")
    assert not mismatches, "\n".join(mismatches)
    with app.app_context():
        # Every distinct message is kept with its raw bytes, whatever happened to it.
        rows = list(db.session.scalars(select(MailMessage)))
        assert len(rows) == len(CORPUS)
        assert {r.raw_bytes for r in rows} == set(CORPUS.values())
        # Machine mail is never acknowledged: only recorded messages have outbox rows.
        recorded = {r.submission_id for r in rows if r.outcome == "recorded"}
        acked = set(db.session.scalars(select(OutboxMessage.submission_id)))
        assert acked <= recorded


def test_same_message_twice_is_a_duplicate(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    for raw in (citizen_mail(), citizen_mail(message_id=None)):
        first = one_line(run_ingest(runner, raw, tmp_path))
        again = one_line(run_ingest(runner, raw, tmp_path))
        assert first.startswith("recorded ")
        assert again == f"duplicate {code_of(first)}"
    # Without a Message-ID, the same sender/date/subject/body decides even if bytes differ.
    raw = citizen_mail("同一封信，没有编号。", message_id=None)
    first = one_line(run_ingest(runner, raw, tmp_path))
    retyped = raw.replace(b"\nTo: ", b"\nX-Relay: mx2\nTo: ")
    assert one_line(run_ingest(runner, retyped, tmp_path)) == f"duplicate {code_of(first)}"
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 3
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 3


def test_recorded_mail_lands_on_the_published_notice_with_its_sender(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    line = one_line(run_ingest(runner, citizen_mail(sender="Li.Ming@Example.cn"), tmp_path))
    shown = runner.invoke(args=["submissions", "show", code_of(line), "--json"])
    data = json.loads(shown.output)
    assert data["channel"] == "email"
    assert data["sender_email"].lower() == "li.ming@example.cn"
    assert data["subject"] == "对整改工作的意见"
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        assert submission is not None and submission.notice is not None
        assert submission.notice.slug == published_notice
        row = db.session.scalar(
            select(MailMessage).where(MailMessage.submission_id == submission.id)
        )
        assert row is not None and row.outcome == "recorded" and row.code == submission.code


def test_gb18030_character_survives_end_to_end(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    # 镕 is outside GB2312, yet mail clients label such text gb2312: it must not be lost.
    body = "朱镕基路的整改情况请公开。"
    raw = (
        (
            "From: =?gb2312?B?{name}?= <rong@163.com>\r\n"
            "To: feedback@portal.example\r\n"
            "Subject: =?gb2312?B?{subject}?=\r\n"
            "Message-ID: <gb18030-1@163.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=gb2312\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        )
        .format(
            name=__import__("base64").b64encode("王镕".encode("gb18030")).decode(),
            subject=__import__("base64").b64encode("镕城小区意见".encode("gb18030")).decode(),
        )
        .encode("ascii")
        + body.encode("gb18030")
        + b"\r\n"
    )
    line = one_line(run_ingest(runner, raw, tmp_path))
    assert line.startswith("recorded ")
    data = json.loads(runner.invoke(args=["submissions", "show", code_of(line), "--json"]).output)
    assert "朱镕基" in data["body"]
    assert data["subject"] == "镕城小区意见"


def _ack_of(app: Flask, code: str) -> OutboxMessage:
    with app.app_context():
        ack = db.session.scalar(
            select(OutboxMessage).join(Submission).where(Submission.code == code)
        )
        assert ack is not None
        db.session.expunge(ack)
        return ack


def test_bounce_marks_the_outbox_row_bounced(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    code = code_of(one_line(run_ingest(runner, citizen_mail(sender="gone@example.cn"), tmp_path)))
    ack = _ack_of(app, code)
    dsn = EmailMessage()
    dsn["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.cn>"
    dsn["To"] = "noreply@portal.example"
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn["Message-ID"] = make_msgid(domain="mx.example.cn")
    dsn.set_content("This is the mail system. The address does not exist.")
    dsn.add_attachment(
        f"Message-ID: {ack.message_id}\r\nSubject: {ack.subject}\r\n".encode(),
        maintype="text",
        subtype="rfc822-headers",
    )
    dsn.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    dsn.set_param("boundary", dsn.get_boundary())
    line = one_line(run_ingest(runner, dsn.as_bytes(), tmp_path))
    assert line == "ignored bounce"
    with app.app_context():
        assert db.session.get(OutboxMessage, ack.id).status == "bounced"  # type: ignore[union-attr]
        assert db.session.scalar(select(func.count(Submission.id))) == 1


def test_auto_reply_is_ignored_and_never_acknowledged(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    raw = citizen_mail("我正在休假，将于下周回复。", headers={"Auto-Submitted": "auto-replied"})
    line = one_line(run_ingest(runner, raw, tmp_path))
    assert line.startswith("ignored auto-reply")
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
        assert db.session.scalar(select(func.count(Submission.id))) == 0


def test_reply_threads_to_the_submission(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    code = code_of(one_line(run_ingest(runner, citizen_mail(), tmp_path)))
    ack = _ack_of(app, code)
    by_subject = citizen_mail(
        "补充：施工时间是晚上十点以后。", subject=f"回复：[#{code.lower()}] 您的意见已收到"
    )
    assert one_line(run_ingest(runner, by_subject, tmp_path)) == f"threaded {code}"
    by_header = citizen_mail(
        "再补充一张照片的说明。",
        subject="Re: 您的意见已收到",
        headers={"In-Reply-To": ack.message_id},
    )
    assert one_line(run_ingest(runner, by_header, tmp_path)) == f"threaded {code}"
    assert one_line(run_ingest(runner, by_header, tmp_path)) == f"duplicate {code}"
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.code == code))
        assert submission is not None
        assert [f.body for f in submission.follow_ups] == [
            "补充：施工时间是晚上十点以后。",
            "再补充一张照片的说明。",
        ]
        assert {f.author for f in submission.follow_ups} == {"submitter"}
        assert db.session.scalar(select(func.count(Submission.id))) == 1
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # no second ack


@pytest.mark.config(MAIL_REOPENS_PER_HOUR=2)
def test_reopens_by_mail_are_rate_limited_per_sender(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    code = code_of(one_line(run_ingest(runner, citizen_mail(), tmp_path)))
    lines = [
        one_line(
            run_ingest(runner, citizen_mail(f"第{n}次补充", subject=f"[#{code}] 补充"), tmp_path)
        )
        for n in range(3)
    ]
    assert lines[:2] == [f"threaded {code}"] * 2
    assert lines[2] == "quarantined rate limit"
    other = citizen_mail("另一个人的补充", subject=f"[#{code}] 补充", sender="other@example.cn")
    assert one_line(run_ingest(runner, other, tmp_path)) == f"threaded {code}"
    with app.app_context():
        assert db.session.scalar(select(func.count(FollowUp.id))) == 3
        authors = set(db.session.scalars(select(FollowUp.author)))
        assert len(authors) == 2  # the stranger's follow-up is not presented as the submitter's


def test_refused_attachment_is_quarantined_with_the_message(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    raw = citizen_mail(
        "证据见附件。",
        attachments=(
            ("证据.pdf", MZ_EXE, "application/pdf"),
            ("现场.pdf", gen_pdf(), "application/pdf"),
        ),
    )
    line = one_line(run_ingest(runner, raw, tmp_path))
    assert line.startswith("quarantined attachment refused: ")
    assert "证据.pdf" in line
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 0
        row = db.session.scalar(select(MailMessage))
        assert row is not None and row.release_state == "pending"
        assert row.raw_bytes == raw  # kept whole: the refused file is still in it
    # A second delivery of the same message does not pile up another copy.
    assert one_line(run_ingest(runner, raw, tmp_path)) == line
    with app.app_context():
        assert db.session.scalar(select(func.count(MailMessage.id))) == 1


def test_database_failure_spools_and_exits_non_zero(
    runner: FlaskCliRunner,
    app: Flask,
    published_notice: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = citizen_mail("数据库宕机时寄来的信。")

    def database_down(*_args: Any, **_kw: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr("portal.intake.mail.store.record_submission", database_down)
    result = run_ingest(runner, raw, tmp_path)
    assert result.exit_code == EX_TEMPFAIL  # the MTA keeps the message and retries
    assert not [line for line in result.stdout.splitlines() if LINE_RE.match(line)]
    spooled = list((Path(app.instance_path) / "mail-spool").glob("*.eml"))
    assert [p.read_bytes() for p in spooled] == [raw]

    monkeypatch.undo()
    drained = runner.invoke(args=["mail", "spool"])
    assert drained.exit_code == 0, drained.output
    assert ": recorded " in drained.output
    code = drained.output.split("recorded ", 1)[1].strip()
    assert not list((Path(app.instance_path) / "mail-spool").glob("*.eml"))
    # The MTA's retry of the same message is then a duplicate, not a second submission.
    assert one_line(run_ingest(runner, raw, tmp_path)) == f"duplicate {code}"


def test_ingest_reads_stdin(runner: FlaskCliRunner, app: Flask, published_notice: str) -> None:
    result = runner.invoke(args=["mail", "ingest", "-"], input=citizen_mail())
    assert one_line(result).startswith("recorded ")


# --- one transaction, one copy of the raw bytes -----------------------------------------------


def raw_copies(raw: bytes) -> list[str]:
    """Every table.column of the database that holds these bytes, as they are or compressed."""
    conn = db.session.connection()
    found = []
    for table in sorted(inspect(conn).get_table_names()):
        for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
            for column, value in row.items():
                if isinstance(value, bytes | memoryview) and _holds(bytes(value), raw):
                    found.append(f"{table}.{column}")
    return found


def _holds(value: bytes, raw: bytes) -> bool:
    if value == raw:
        return True
    try:
        return open_raw(value) == raw
    except (zlib.error, PersonalDataKeyError):
        return False


def test_raw_message_is_stored_once(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    first = citizen_mail("路口的护栏还没有修好。")
    code = code_of(one_line(run_ingest(runner, first, tmp_path)))
    reply = citizen_mail("补充：护栏在学校门口。", subject=f"Re: [#{code}] 您的意见已收到")
    assert one_line(run_ingest(runner, reply, tmp_path)) == f"threaded {code}"
    with app.app_context():
        assert raw_copies(first) == ["mail_messages.raw"]
        assert raw_copies(reply) == ["mail_messages.raw"]


class _DiskFull:
    """Makes every insert of a mail record fail, as a full disk or a lost connection would."""

    def __enter__(self) -> None:
        event.listen(MailMessage, "before_insert", self.fail)

    def __exit__(self, *_exc: object) -> None:
        event.remove(MailMessage, "before_insert", self.fail)

    @staticmethod
    def fail(*_args: Any) -> None:
        raise OperationalError("INSERT INTO mail_messages", {}, Exception("disk is full"))


def test_submission_and_its_mail_record_commit_together(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    raw = citizen_mail(
        "现场照片见附件。", attachments=(("现场.pdf", gen_pdf(), "application/pdf"),)
    )
    with _DiskFull():
        result = run_ingest(runner, raw, tmp_path)
    assert result.exit_code == EX_TEMPFAIL, result.output
    with app.app_context():
        # Nothing half-recorded: no submission, file, acknowledgement or event without its mail.
        for model in (Submission, Attachment, OutboxMessage, MailMessage):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
        recorded = select(func.count(Event.id)).where(Event.action == "submission.record")
        assert db.session.scalar(recorded) == 0
    assert stored_files(app) == []
    assert [p.read_bytes() for p in (Path(app.instance_path) / "mail-spool").glob("*.eml")] == [raw]

    drained = runner.invoke(args=["mail", "spool"])
    assert drained.exit_code == 0, drained.output
    code = drained.output.split(": recorded ", 1)[1].strip()
    with app.app_context():
        row = db.session.scalars(select(MailMessage)).one()
        assert (row.outcome, row.code) == ("recorded", code)
        submission = db.session.scalars(select(Submission)).one()
        assert submission.code == code and [a.filename for a in submission.attachments] == [
            "现场.pdf"
        ]


def test_follow_up_and_its_mail_record_commit_together(
    runner: FlaskCliRunner, app: Flask, published_notice: str, tmp_path: Path
) -> None:
    code = code_of(one_line(run_ingest(runner, citizen_mail(), tmp_path)))
    reply = citizen_mail("补充：晚上十点以后施工。", subject=f"Re: [#{code}] 您的意见已收到")
    with _DiskFull():
        assert run_ingest(runner, reply, tmp_path).exit_code == EX_TEMPFAIL
    with app.app_context():
        assert db.session.scalar(select(func.count(FollowUp.id))) == 0
    # The MTA's retry adds the follow-up once, with its record.
    assert one_line(run_ingest(runner, reply, tmp_path)) == f"threaded {code}"
    with app.app_context():
        assert db.session.scalar(select(func.count(FollowUp.id))) == 1
        outcomes = db.session.scalars(select(MailMessage.outcome).order_by(MailMessage.id))
        assert outcomes.all() == ["recorded", "threaded"]


# --- fuzzing ---------------------------------------------------------------------------------


def _mutate(raw: bytes, data: st.DataObject) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        if not out:
            break
        pos = data.draw(st.integers(0, len(out) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip":
            out[pos] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del out[pos : pos + data.draw(st.integers(1, 64))]
        elif action == "insert":
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=32))
        else:
            del out[pos:]
    return bytes(out)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_mail_always_gives_a_contract_line(app: Flask, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        raw = data.draw(st.binary(max_size=2000))
    else:
        raw = _mutate(CORPUS[data.draw(st.sampled_from(sorted(CORPUS)))], data)
    with app.app_context():
        outcome = ingest(raw)  # nothing escapes
        assert LINE_RE.match(outcome.line()), outcome.line()
        if outcome.kind == "quarantined":
            assert outcome.reason
