"""Issue #16's classes of real mailbox mail through ingest, and #19 items 6 and 12: raw mail
encrypted at rest, a mailed follow-up from another address held for staff."""

from __future__ import annotations

import contextlib
import re
import zlib
from typing import Any

from flask import Flask
from sqlalchemy import select, text

from portal.extensions import db
from portal.intake.mail.ingest import ingest
from portal.intake.mail.models import MailMessage
from portal.intake.models import FollowUp, Submission
from portal.outbox.models import OutboxMessage
from tests.conftest import csrf_token_from
from tests.test_mail_ingest import CORPUS_DIR, citizen_mail

UNKNOWN_BYTES = bytes(range(256)) * 4  # no known type: refused, but harmless


def _submission(code: str) -> Submission:
    found = db.session.scalar(select(Submission).where(Submission.code == code))
    assert found is not None
    return found


def test_a_harmless_refused_part_no_longer_quarantines_the_opinion(
    app: Flask, published_notice: str
) -> None:
    raw = citizen_mail(
        "路灯坏了，照片和数据见附件。",
        attachments=(("数据.xyz", UNKNOWN_BYTES, "application/octet-stream"),),
    )
    with app.app_context():
        outcome = ingest(raw)
        assert outcome.kind == "recorded", outcome.line()
        assert outcome.code is not None
        submission = _submission(outcome.code)
        assert submission.attachments == []
        refused = (submission.channel_details or {})["refused_attachments"]
        assert [r["filename"] for r in refused] == ["数据.xyz"]
        assert "数据.xyz" in refused[0]["reason"] and "未接收" in refused[0]["reason"]
        row = db.session.scalar(select(MailMessage))
        assert row is not None and row.raw_bytes == raw  # the refused file stays in the raw mail
        ack = db.session.scalar(select(OutboxMessage))
        assert ack is not None
        # The citizen is told which file was not accepted, and why, in Chinese.
        assert "以下附件未被接收" in ack.text and "数据.xyz" in ack.text


def test_staff_read_signed_and_refused_files_in_words(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    with app.app_context():
        signed = ingest((CORPUS_DIR / "53_c1_pgp_signed.eml").read_bytes())
        refused = ingest(
            citizen_mail("附件见下。", attachments=(("数据.xyz", UNKNOWN_BYTES, "text/x-foo"),))
        )
    assert signed.kind == refused.kind == "recorded"
    client = staff_login("triager")
    page = client.get(f"/staff/submissions/{signed.code}").get_data(as_text=True)
    assert "来信带有PGP数字签名" in page and "signature.asc" not in page
    page = client.get(f"/staff/submissions/{refused.code}").get_data(as_text=True)
    assert "未接收的附件" in page and "数据.xyz" in page


def test_executable_content_still_holds_the_whole_message(
    app: Flask, published_notice: str
) -> None:
    from tests.fixtures.intake import MZ_EXE

    raw = citizen_mail("见附件", attachments=(("说明.pdf", MZ_EXE, "application/pdf"),))
    with app.app_context():
        outcome = ingest(raw)
    assert outcome.kind == "quarantined" and "说明.pdf" in (outcome.reason or "")


def test_raw_mail_is_encrypted_at_rest_and_old_rows_still_read(
    app: Flask, published_notice: str
) -> None:
    """#19 item 6: the sender's address is not readable from the stored raw message."""
    raw = citizen_mail("请核查。", sender="hidden.person@example.cn")
    with app.app_context():
        assert ingest(raw).kind == "recorded"
        stored = db.session.execute(text("SELECT raw FROM mail_messages")).scalar_one()
        stored = bytes(stored)
        assert b"hidden.person" not in stored
        with contextlib.suppress(zlib.error):  # not zlib at all once encrypted
            assert b"hidden.person" not in zlib.decompress(stored)
        row = db.session.scalar(select(MailMessage))
        assert row is not None and row.raw_bytes == raw
        # A row written before encryption (zlib alone) still reads.
        old = b"From: a@b.cn\r\nSubject: old\r\n\r\nold row\r\n"
        row.raw = zlib.compress(old)
        db.session.commit()
        db.session.expire_all()
        again = db.session.scalar(select(MailMessage))
        assert again is not None and again.raw_bytes == old
    # ...and `flask mail encrypt-raw` seals it in place.
    result = app.test_cli_runner().invoke(args=["mail", "encrypt-raw"])
    assert result.output.strip() == "encrypted 1 raw messages"
    with app.app_context():
        stored = bytes(db.session.execute(text("SELECT raw FROM mail_messages")).scalar_one())
        assert b"a@b.cn" not in stored and not stored.startswith(b"x")
        row = db.session.scalar(select(MailMessage))
        assert row is not None and row.raw_bytes == old


def test_a_mailed_follow_up_from_another_address_waits_for_staff(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    """#19 item 12: a forged From: with the receipt code is not the submitter's follow-up."""
    with app.app_context():
        first = ingest(citizen_mail("原始意见。", sender="owner@example.cn"))
        assert first.code is not None
        own = ingest(citizen_mail("本人补充。", subject=f"Re: [#{first.code}]",
                                  sender="owner@example.cn"))  # fmt: skip
        forged = ingest(citizen_mail("冒名补充：撤回我的意见。", subject=f"[#{first.code}]",
                                     sender="someone.else@example.cn"))  # fmt: skip
        assert own.kind == forged.kind == "threaded"
        rows = db.session.execute(select(FollowUp.body, FollowUp.review_state)).all()
        states = {body: state for body, state in rows}
        assert states == {"本人补充。": None, "冒名补充：撤回我的意见。": "held"}
        held = db.session.scalar(select(FollowUp).where(FollowUp.review_state == "held"))
        assert held is not None and held.author != "submitter"
        held_id = held.id
    client = staff_login("triager")
    page = client.get("/staff/mail/follow-ups").get_data(as_text=True)
    assert "冒名补充" in page and "发件地址与意见的联系邮箱不一致" in page
    token = csrf_token_from(page)
    response = client.post(f"/staff/mail/follow-ups/{held_id}/accept", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        accepted = db.session.get(FollowUp, held_id)
        assert accepted is not None
        assert (accepted.review_state, accepted.author) == ("accepted", "submitter")
    assert "冒名补充" not in client.get("/staff/mail/follow-ups").get_data(as_text=True)


def test_a_forged_owner_address_that_failed_dmarc_is_held_too(
    app: Flask, published_notice: str
) -> None:
    """The owner's own address in From:, but our server found the domain forged."""
    with app.app_context():
        first = ingest(citizen_mail("原始意见。", sender="owner@example.cn"))
        forged = citizen_mail(
            "冒名：我撤回意见。",
            subject=f"[#{first.code}]",
            sender="owner@example.cn",
            headers={"Authentication-Results": "mx.portal.example; spf=fail; dmarc=fail"},
        )
        assert ingest(forged).kind == "threaded"
        follow_up = db.session.scalar(select(FollowUp))
        assert follow_up is not None and follow_up.review_state == "held"
        assert follow_up.author != "submitter"


def test_every_class_message_is_recorded_with_its_sender_and_text(
    app: Flask, published_notice: str
) -> None:
    """Each generated class message (held-out ones too) becomes a submission, not quarantine."""
    names = sorted(
        p.name for p in CORPUS_DIR.glob("*.eml") if re.match(r"(\d+_|heldout-)c\d_", p.name)
    )
    assert len(names) >= 20
    with app.app_context():
        for name in names:
            outcome = ingest((CORPUS_DIR / name).read_bytes())
            assert outcome.kind == "recorded", (name, outcome.line())
            submission = _submission(outcome.code or "")
            assert submission.sender_email, name
            assert "\ufffd" not in submission.body and "Content-Type" not in submission.body


def test_release_sets_aside_files_as_intake_does(app: Flask, published_notice: str) -> None:
    """Staff's release and intake share one per-file filter: the same files kept, the same
    reasons shown for the others."""
    from portal.intake.mail.quarantine import release
    from tests.fixtures.intake import MZ_EXE, gen_pdf

    raw = citizen_mail(
        "材料见附件。",
        attachments=(
            ("说明.pdf", MZ_EXE, "application/pdf"),
            ("数据.xyz", UNKNOWN_BYTES, "application/octet-stream"),
            ("现场.pdf", gen_pdf(), "application/pdf"),
        ),
    )
    with app.app_context():
        assert ingest(raw).kind == "quarantined"
        row = db.session.scalar(select(MailMessage))
        assert row is not None
        outcome = release(row, actor="admin@example.cn")
        submission = _submission(outcome.code or "")
        assert submission.status == "held"
        assert [a.filename for a in submission.attachments] == ["现场.pdf"]
        refused = (submission.channel_details or {})["refused_attachments"]
        assert [r["filename"] for r in refused] == ["说明.pdf", "数据.xyz"]
        assert all(r["filename"] in r["reason"] for r in refused)
