"""The one door: record_submission, receipts, personal data at rest, atomicity."""

from __future__ import annotations

import hmac
import json
import re
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from portal import audit
from portal.audit import Event
from portal.extensions import db
from portal.intake import receipts
from portal.intake.follow_ups import add_follow_up
from portal.intake.models import Attachment, FollowUp, Submission, SubmissionFinding
from portal.intake.service import (
    Contact,
    DuplicateSubmission,
    Incoming,
    IncomingFile,
    SubmissionRejected,
    check_secret,
    find_by_code,
    record_submission,
)
from portal.notices.models import Finding
from portal.outbox.models import OutboxMessage
from tests.fixtures.intake import MZ_EXE, gen_image, gen_pdf, gps_exif, stored_files

BODY = "十三号问题的整改情况与实际不符，窗口仍然要求重复提交材料。"
CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")


def counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Submission, SubmissionFinding, Attachment, FollowUp, OutboxMessage, Event)
    }


def record(notice: Any, **overrides: Any):
    kwargs: dict[str, Any] = {"channel": "web", "body": BODY, "notice": notice}
    kwargs.update(overrides)
    return record_submission(Incoming(**kwargs))


def test_happy_path_stores_everything_in_one_go(app: Flask, notice: Any) -> None:
    receipt = record(
        notice,
        findings=[13, 2],
        contact=Contact(name="李明", phone="13812341234", email="li.ming@example.com"),
        consent=True,
        attachments=[IncomingFile("证明.pdf", gen_pdf()), IncomingFile("现场.jpg", gen_image())],
    )
    assert CODE_RE.match(receipt.code)
    assert re.fullmatch(r"\d{16}", receipt.secret)

    db.session.expire_all()
    submission = find_by_code(receipt.code)
    assert submission is not None and submission.id == receipt.submission_id
    assert submission.status == "received" and submission.channel == "web"
    assert submission.body == BODY
    assert submission.finding_numbers == [2, 13]
    assert submission.contact_name == "李明"
    assert submission.consent_at is not None
    assert [a.filename for a in submission.attachments] == ["证明.pdf", "现场.jpg"]
    assert len(stored_files(app)) == 2
    assert submission.reply_due_on > submission.ack_due_on > submission.received_at.date()
    assert submission.late is False

    event = db.session.scalar(select(Event).where(Event.action == "submission.record"))
    assert event.object_id == str(submission.id)
    assert event.details == {
        "channel": "web",
        "status": "received",
        "findings": [13, 2],
        "attachments": 2,
    }
    # No personal data in the audit log.
    assert "李明" not in json.dumps(event.details, ensure_ascii=False)
    assert audit.verify().ok

    ack = db.session.scalars(select(OutboxMessage)).one()
    assert ack.to == "li.ming@example.com"
    assert ack.subject == f"[#{receipt.code}] 您的意见已收到"
    assert receipt.secret not in ack.text and receipt.secret not in (ack.html or "")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"body": "太短了"}, "body", "至少"),
        ({"body": "长" * 5001}, "body", "5000"),
        ({"body": " \x00\x01 \n"}, "body", "至少"),
        ({"findings": [999]}, "findings", "999"),
        ({"contact": Contact(email="not-an-address")}, "contact_email", "邮箱"),
        ({"contact": Contact(phone="call me")}, "contact_phone", "电话"),
        ({"contact": Contact(name="李明")}, "consent", "同意"),
        ({"contact": Contact(email="a@example.com"), "anonymous": True, "consent": True},
         "anonymous", "匿名"),
        ({"attachments": [IncomingFile("scan.pdf", MZ_EXE)]}, "attachments", "scan.pdf"),
        ({"attachments": [IncomingFile(f"p{i}.pdf", gen_pdf()) for i in range(6)]},
         "attachments", "最多"),
        ({"attachments": [IncomingFile("ok.pdf", gen_pdf()), IncomingFile("bad.docx", b"PK")]},
         "attachments", "bad.docx"),
        ({"channel": "fax"}, "channel", "fax"),
    ],
)  # fmt: skip
def test_every_rejection_leaves_no_row_and_no_file(
    app: Flask, notice: Any, overrides: dict[str, Any], field: str, words: str
) -> None:
    before = counts()
    with pytest.raises(SubmissionRejected) as caught:
        record(notice, **overrides)
    assert field in caught.value.errors
    assert words in caught.value.errors[field]
    assert counts() == before
    assert stored_files(app) == []


def test_windows_executable_named_pdf_is_refused_by_name(app: Flask, notice: Any) -> None:
    with pytest.raises(SubmissionRejected) as caught:
        record(notice, attachments=[IncomingFile("scan.pdf", MZ_EXE)])
    message = caught.value.errors["attachments"]
    assert "scan.pdf" in message and "可执行" in message
    assert counts()["submissions"] == 0 and stored_files(app) == []


def test_failure_after_files_were_written_leaves_nothing(
    app: Flask, notice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_audit(*args: Any, **kwargs: Any) -> None:
        assert stored_files(app), "the files should be on disk by now"
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audit, "record", broken_audit)
    before = counts()
    with pytest.raises(RuntimeError):
        record(
            notice,
            contact=Contact(email="a@example.com"),
            consent=True,
            attachments=[
                IncomingFile("a.pdf", gen_pdf("one")),
                IncomingFile("b.png", gen_image("PNG")),
            ],
        )
    assert counts() == before
    assert stored_files(app) == []


def test_failure_never_removes_a_file_an_earlier_submission_stored(
    app: Flask, notice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = IncomingFile("same.pdf", gen_pdf("shared"))
    first = record(notice, attachments=[shared])
    (path,) = stored_files(app)

    monkeypatch.setattr(audit, "record", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        record(notice, attachments=[shared, IncomingFile("new.pdf", gen_pdf("new"))])
    assert stored_files(app) == [path]
    assert counts()["submissions"] == 1
    assert find_by_code(first.code) is not None


def test_contact_fields_are_not_readable_in_the_raw_row(app: Flask, notice: Any) -> None:
    contact = Contact(
        name="王小红", phone="0769-22223333", email="wxh@qq.com", address="东莞市南城区"
    )
    receipt = record(notice, contact=contact, consent=True)
    row = db.session.execute(
        text(
            "SELECT contact_name, contact_phone, contact_email, contact_address, sender_hash "
            "FROM submissions WHERE id = :id"
        ),
        {"id": receipt.submission_id},
    ).one()
    raw = " ".join(str(value) for value in row)
    for plain in ("王小红", "22223333", "wxh@qq.com", "wxh", "东莞", "南城"):
        assert plain not in raw
    db.session.expire_all()
    submission = db.session.get(Submission, receipt.submission_id)
    assert (submission.contact_name, submission.contact_phone) == ("王小红", "0769-22223333")
    assert (submission.contact_email, submission.contact_address) == ("wxh@qq.com", "东莞市南城区")


def test_a_copied_database_without_the_key_file_reveals_nothing(app: Flask, notice: Any) -> None:
    from portal import personal_data as crypto

    receipt = record(notice, contact=Contact(name="赵六"), consent=True)
    crypto.clear_key_cache()
    Path(app.instance_path, "pii.key").unlink()
    db.session.expire_all()
    with pytest.raises(crypto.PersonalDataKeyError):
        db.session.get(Submission, receipt.submission_id).contact_name  # noqa: B018
    db.session.rollback()
    crypto.clear_key_cache()


def test_a_taken_code_is_redrawn(app: Flask, notice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = record(notice)
    fresh = receipts.generate_code()
    drawn = iter([first.code, fresh])
    monkeypatch.setattr(receipts, "generate_code", lambda: next(drawn))
    second = record(notice, attachments=[IncomingFile("a.pdf", gen_pdf())])
    assert second.code == fresh
    assert counts()["submissions"] == 2 and len(stored_files(app)) == 1


def test_revealing_the_contact_is_audited(app: Flask, notice: Any) -> None:
    contact = Contact(
        name="李明", phone="13812341234", email="zhang@qq.com", address="东莞市南城区某路1号"
    )
    receipt = record(notice, contact=contact, consent=True)
    submission = db.session.get(Submission, receipt.submission_id)
    assert db.session.scalar(select(func.count()).where(Event.action == "personal_data.view")) == 0
    from portal.triage.reveal import reveal_personal_data

    shown = reveal_personal_data(submission, "回电核实", actor="user:1:a@b.cn")
    db.session.commit()
    assert (shown["contact_name"], shown["contact_phone"], shown["contact_email"]) == (
        "李明",
        "13812341234",
        "zhang@qq.com",
    )
    assert shown["contact_address"] == "东莞市南城区某路1号"
    event = db.session.scalar(select(Event).where(Event.action == "personal_data.view"))
    assert event.actor == "user:1:a@b.cn" and event.object_id == str(submission.id)
    assert "李明" not in json.dumps(event.details, ensure_ascii=False)


def test_codes_are_crockford_and_distinct() -> None:
    codes = {receipts.generate_code() for _ in range(10_000)}
    assert len(codes) == 10_000
    assert all(CODE_RE.match(code) for code in codes)
    assert not set("ILOU") & set("".join(codes))


@given(st.text(alphabet=receipts.ALPHABET, min_size=10, max_size=10))
def test_a_code_is_found_however_it_is_typed(chars: str) -> None:
    display = receipts.format_code(chars)
    variants = {
        chars.lower(),
        display,
        f" {display.lower()} ",
        chars.replace("1", "l").replace("0", "o"),
        chars.replace("1", "I").replace("0", "O"),
        unicodedata.normalize("NFKC", display).translate({ord("-"): "－"}),
        "".join(chr(ord(c) + 0xFEE0) for c in chars),  # full-width, as a Chinese IME types it
    }
    for variant in variants:
        assert receipts.normalise_code(variant) == chars, variant


def test_find_by_code_accepts_any_case_and_confusables(app: Flask, notice: Any) -> None:
    receipt = record(notice)
    raw = receipt.code.replace("-", "")
    assert find_by_code(raw.lower()).id == receipt.submission_id
    assert find_by_code(raw.replace("1", "i").replace("0", "o")).id == receipt.submission_id
    other = "00000-00000" if receipt.code != "00000-00000" else "11111-11111"
    assert find_by_code(other) is None
    assert find_by_code("not a code") is None


def test_secret_is_checked_in_constant_time_and_only_hashed(
    app: Flask, notice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = record(notice)
    submission = db.session.get(Submission, receipt.submission_id)
    assert receipt.secret not in submission.secret_hash

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(receipts.hmac, "compare_digest", spy)
    assert check_secret(submission, receipt.secret)
    spaced = " ".join(receipt.secret[i : i + 4] for i in range(0, 16, 4))
    assert check_secret(submission, spaced)
    wrong = f"{(int(receipt.secret) + 1) % 10**16:016d}"
    assert not check_secret(submission, wrong)
    assert not check_secret(submission, "")
    assert not check_secret(None, receipt.secret)
    assert len(calls) == 5


def test_duplicate_message_id_raises_with_the_first_code(app: Flask, notice: Any) -> None:
    first = record(notice, channel="email", message_id="<abc@mail.example>", sender_email="a@b.cn")
    with pytest.raises(DuplicateSubmission) as caught:
        record(notice, channel="email", message_id="<abc@mail.example>", sender_email="a@b.cn")
    assert caught.value.code == first.code
    assert counts()["submissions"] == 1


def test_email_channel_stores_the_sender_and_threads_the_ack(app: Flask, notice: Any) -> None:
    receipt = record(
        notice,
        channel="email",
        body="短",
        subject="关于第3项",
        sender_email="Reader@Example.COM",
        message_id="<m1@example.com>",
    )
    submission = db.session.get(Submission, receipt.submission_id)
    assert submission.sender_email.lower() == "reader@example.com"
    ack = db.session.scalars(select(OutboxMessage)).one()
    assert ack.to.lower() == "reader@example.com" and ack.in_reply_to == "<m1@example.com>"


def test_caller_rows_commit_with_the_submission_or_not_at_all(app: Flask, notice: Any) -> None:
    def add_note(submission: Submission) -> None:
        assert submission.id is not None and CODE_RE.match(submission.code)
        audit.record("test.note", object_type="submission", object_id=submission.id)

    receipt = record_submission(
        Incoming(channel="web", body=BODY, notice=notice), before_commit=add_note
    )
    note = db.session.scalar(select(Event).where(Event.action == "test.note"))
    assert note is not None and note.object_id == str(receipt.submission_id)

    def fail(submission: Submission) -> None:
        raise OSError("the caller's store is down")

    before = counts()
    with pytest.raises(OSError):
        record_submission(
            Incoming(
                channel="web",
                body=BODY,
                notice=notice,
                attachments=[IncomingFile("a.pdf", gen_pdf("x"))],
            ),
            before_commit=fail,
        )
    assert counts() == before
    assert stored_files(app) == []


def test_spam_is_recorded_without_acknowledgement_and_held_with_reason(
    app: Flask, notice: Any
) -> None:
    contact = Contact(email="bot@example.com")
    spam = record(notice, status="spam", contact=contact, consent=True)
    held = record(
        notice, status="held", hold_reason="captcha unreachable", contact=contact, consent=True
    )
    statuses = {s.code: s.status for s in db.session.scalars(select(Submission))}
    assert statuses == {spam.code: "spam", held.code: "held"}
    outbox = db.session.scalars(select(OutboxMessage)).all()
    assert [m.submission_id for m in outbox] == [held.submission_id]


def test_late_is_computed_from_the_feedback_window(app: Flask, notice: Any) -> None:
    notice.feedback_closes_at = datetime(2024, 3, 1, 16, 0, tzinfo=UTC)  # 3-2 00:00 Shanghai
    db.session.commit()
    on_time = record(notice, received_at=datetime(2024, 3, 1, 15, 0, tzinfo=UTC))
    late = record(notice, received_at=datetime(2024, 3, 2, 1, 0, tzinfo=UTC))
    posted = record(
        notice,
        channel="letter",
        received_at=datetime(2024, 3, 8, tzinfo=UTC),
        postmarked_on=date(2024, 3, 1),
    )
    flags = {s.id: s.late for s in db.session.scalars(select(Submission))}
    assert flags == {on_time.submission_id: False, late.submission_id: True,
                     posted.submission_id: False}  # fmt: skip


def test_chosen_findings_follow_a_new_notice_version(app: Flask, notice: Any) -> None:
    record(notice, findings=[13])  # the notice's findings are now read and kept
    finding = db.session.scalar(
        select(Finding).where(Finding.notice_id == notice.id, Finding.number == 13)
    )
    finding.active = False
    notice.version += 1  # as every edit of a notice does
    db.session.commit()
    with pytest.raises(SubmissionRejected) as caught:
        record(notice, findings=[13])
    assert "13" in caught.value.errors["findings"]
    assert record(notice, findings=[2]).code


def test_other_channels_accept_short_bodies_but_not_empty(app: Flask, notice: Any) -> None:
    record(notice, channel="phone", body="路灯坏了", channel_details={"duration_min": 3})
    with pytest.raises(SubmissionRejected):
        record(notice, channel="phone", body="  ")


def test_follow_up_adds_text_and_files(app: Flask, notice: Any) -> None:
    receipt = record(notice)
    submission = db.session.get(Submission, receipt.submission_id)
    jpeg = gen_image("JPEG", exif=gps_exif())
    follow_up = add_follow_up(
        submission, body="补充一张照片", channel="web", attachments=[IncomingFile("补充.jpg", jpeg)]
    )
    db.session.expire_all()
    submission = db.session.get(Submission, receipt.submission_id)
    assert [f.body for f in submission.follow_ups] == ["补充一张照片"]
    assert [a.follow_up_id for a in submission.attachments] == [follow_up.id]
    with pytest.raises(SubmissionRejected):
        add_follow_up(submission, body="", channel="web")


@pytest.mark.parametrize("channel", ["email", "letter"])
def test_long_follow_up_by_mail_or_letter_is_refused_with_its_own_limit(
    app: Flask, notice: Any, channel: str
) -> None:
    submission = db.session.get(Submission, record(notice).submission_id)
    with pytest.raises(SubmissionRejected) as caught:
        add_follow_up(submission, body="补" * 100_001, channel=channel)
    message = caught.value.errors["body"]
    assert "100000" in message and "5000" not in message
    submission = db.session.get(Submission, submission.id)
    follow_up = add_follow_up(submission, body="补" * 99_999, channel=channel)
    assert len(follow_up.body) == 99_999


def test_long_web_follow_up_is_refused_with_the_web_limit(app: Flask, notice: Any) -> None:
    submission = db.session.get(Submission, record(notice).submission_id)
    with pytest.raises(SubmissionRejected) as caught:
        add_follow_up(submission, body="补" * 5001, channel="web")
    assert "5000" in caught.value.errors["body"]


FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
# Pieces a citizen's phone may produce: emoji with modifiers, CJK extension B, RTL text and
# overrides, NUL and CRLF, decomposed accents; mixed with any encodable character.
PIECES = ["😀", "👍🏽", "𠀀", "𪚥", "שלום", "مرحبا", "\u202e", "\x00", "\r\n", "e\u0301", "整改"]
hostile_text = st.lists(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(PIECES)), max_size=120
).map("".join)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=hostile_text)
def test_any_unicode_body_is_stored_normalised_and_round_trips(
    app: Flask, notice: Any, runner: Any, body: str
) -> None:
    try:
        receipt = record(notice, body=body)
    except SubmissionRejected as exc:
        assert set(exc.errors) == {"body"}
        return
    db.session.expire_all()
    stored = db.session.get(Submission, receipt.submission_id).body
    assert unicodedata.is_normalized("NFC", stored)
    assert not FORBIDDEN.search(stored)
    assert 10 <= len(stored) <= 5000
    result = runner.invoke(args=["submissions", "show", receipt.code, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["body"] == stored
    # Whatever the citizen wrote that is printable survives.
    kept = [ch for ch in unicodedata.normalize("NFC", body) if ch.isalnum()]
    assert all(ch in stored for ch in kept)


def test_two_hundred_submissions_get_distinct_codes(app: Flask, notice: Any) -> None:
    codes = {record(notice, body=f"{BODY}{i}").code for i in range(200)}
    assert len(codes) == 200
