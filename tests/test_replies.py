"""Replies: sent on the submitter's channel, readable on /track, published only once an editor
approves an anonymised text; and who may do what."""

from __future__ import annotations

from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.outbox.models import OutboxMessage
from portal.triage.anonymise import anonymise
from portal.triage.models import Reply, StatusChange
from tests.conftest import form_post

PHONE = "13812345678"
NAME = "李明"
QUESTION = f"单位食堂浪费严重，我是{NAME}，电话{PHONE}，邮箱li.ming@example.com。"


def _record(app: Flask, slug: str, **kw: Any) -> Any:
    from portal.intake.service import Contact, Incoming, record_submission
    from portal.notices.models import Notice

    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
        kw.setdefault("channel", "web")
        kw.setdefault("body", QUESTION)
        kw.setdefault("findings", [3])
        kw.setdefault("consent", True)
        kw.setdefault("contact", Contact(name=NAME, phone=PHONE, email="li.ming@example.com"))
        return record_submission(Incoming(notice=notice, **kw))


def _reply(client: Any, code: str, body: str, publish: bool = False) -> Any:
    data = {"body": body, **({"publish": "1"} if publish else {})}
    return form_post(
        client,
        f"/staff/submissions/{code}/reply",
        data,
        form_url=f"/staff/submissions/{code}/reply",
    )


def _track_page(app: Flask, receipt: Any) -> str:
    public = app.test_client()
    response = form_post(public, "/track", {"code": receipt.code, "secret": receipt.secret})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return public.get("/track/status").get_data(as_text=True)


def test_email_reply_goes_through_outbox_threaded_and_shows_on_track(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    client = staff_login("triager")
    answer = "您好，食堂浪费问题已责成后勤部门整改，并建立用餐登记制度。"
    response = _reply(client, receipt.code, answer)
    assert response.status_code == 303

    with app.app_context():
        ack = db.session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.submission_id == receipt.submission_id, OutboxMessage.kind == "ack"
            )
        )
        mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reply"))
        assert mail is not None and ack is not None
        assert mail.to == "li.ming@example.com"
        assert mail.subject.startswith(f"[#{receipt.code}] 答复：")
        assert mail.in_reply_to == ack.message_id
        assert answer in mail.text
        from portal.outbox.send import build_message

        assert build_message(mail).extra_headers["In-Reply-To"] == ack.message_id
        submission = db.session.get(Submission, receipt.submission_id)
        assert submission.status == "replied"
        change = db.session.scalar(select(StatusChange).where(StatusChange.new == "replied"))
        assert change is not None and change.submission_id == submission.id

    assert answer in _track_page(app, receipt)


def test_reply_without_email_is_a_letter_and_still_on_track(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    from portal.intake.service import Contact

    receipt = _record(
        app,
        published_notice,
        channel="letter",
        contact=Contact(name=NAME, address="东莞市南城区某路1号"),
    )
    client = staff_login("triager")
    _reply(client, receipt.code, "来信收悉，已转有关部门核查。")
    with app.app_context():
        reply = db.session.scalar(select(Reply))
        assert reply.channel == "letter"
        assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reply")) is None
    panel = client.get(f"/staff/submissions/{receipt.code}/reply").get_data(as_text=True)
    letter_url = f"/staff/submissions/{receipt.code}/replies/{reply.id}/letter"
    assert letter_url in panel
    letter = client.get(letter_url, follow_redirects=True)
    assert letter.status_code == 200
    assert "来信收悉，已转有关部门核查。" in letter.get_data(as_text=True)
    assert "来信收悉" in _track_page(app, receipt)


def test_publication_needs_editor_approval_and_is_anonymised(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    triager = staff_login("triager")
    answer = f"{NAME}您好，请拨打{PHONE}与王科长联系，食堂问题已整改。"
    _reply(triager, receipt.code, answer, publish=True)

    public = app.test_client()
    page = public.get(f"/notices/{published_notice}").get_data(as_text=True)
    assert "食堂问题已整改" not in page  # not yet approved

    editor = staff_login("editor")
    pending = editor.get("/staff/replies/pending").get_data(as_text=True)
    assert "食堂问题已整改" in pending
    assert PHONE not in pending and NAME not in pending and "王科长" not in pending
    with app.app_context():
        reply = db.session.scalar(select(Reply))
        edited_question = "单位食堂浪费严重。"
        edited_answer = reply.public_text + f"（联系人{NAME}）"  # an edit puts a name back
        finding_id = reply.public_finding_id
    response = form_post(
        editor,
        f"/staff/replies/{reply.id}/approve",
        {"question": edited_question, "answer": edited_answer, "finding_id": str(finding_id)},
        form_url="/staff/replies/pending",
    )
    assert response.status_code == 303

    page = public.get(f"/notices/{published_notice}").get_data(as_text=True)
    assert "食堂问题已整改" in page and "单位食堂浪费严重。" in page
    assert PHONE not in page and NAME not in page and "li.ming@example.com" not in page
    assert "[电话]" in page


def test_rejected_publication_never_appears(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    _reply(staff_login("triager"), receipt.code, "已整改完毕，欢迎监督。", publish=True)
    editor = staff_login("editor")
    with app.app_context():
        reply_id = db.session.scalar(select(Reply.id))
    form_post(
        editor,
        f"/staff/replies/{reply_id}/reject",
        {"reason": "涉及个案"},
        form_url="/staff/replies/pending",
    )
    page = app.test_client().get(f"/notices/{published_notice}").get_data(as_text=True)
    assert "已整改完毕，欢迎监督。" not in page
    assert "已整改完毕" not in editor.get("/staff/replies/pending").get_data(as_text=True)


def test_lower_roles_get_403(app: Flask, published_notice: str, staff_login: Any) -> None:
    from tests.conftest import csrf_token_from

    receipt = _record(app, published_notice)
    viewer = staff_login("viewer")
    supervisor = staff_login("supervisor")  # reads every office, answers for none
    for reader in (viewer, supervisor):
        assert reader.get(f"/staff/submissions/{receipt.code}").status_code == 200
        assert reader.get(f"/staff/submissions/{receipt.code}/reply").status_code == 403
        token = csrf_token_from(reader.get("/staff/account").get_data(as_text=True))
        posted = reader.post(
            f"/staff/submissions/{receipt.code}/reply", data={"body": "x", "csrf_token": token}
        )
        assert posted.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Reply)) is None

    triager = staff_login("triager")
    _reply(triager, receipt.code, "答复内容。", publish=True)
    with app.app_context():
        reply_id = db.session.scalar(select(Reply.id))
    for client in (triager, supervisor):
        assert client.get("/staff/replies/pending").status_code == 403
    for client in (triager, viewer, supervisor):
        token = csrf_token_from(client.get("/staff/account").get_data(as_text=True))
        for action in ("approve", "reject"):
            url = f"/staff/replies/{reply_id}/{action}"
            assert client.post(url, data={"answer": "x", "csrf_token": token}).status_code == 403
    anonymous = app.test_client().get("/staff/replies/pending")
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.location


def test_reply_messages_follow_the_staff_language(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    triager = staff_login("triager")
    url = f"/staff/submissions/{receipt.code}/reply"
    sent = form_post(triager, url + "?lang=en", {"body": "已整改。", "publish": "1"}, form_url=url)
    page = triager.get(sent.location).get_data(as_text=True)
    assert "Reply sent (the mail is queued for delivery)." in page
    assert "答复已发送" not in page
    english = {"Accept-Language": "en"}
    empty = form_post(triager, url, {"body": " "}, form_url=url, headers=english)
    assert "The reply cannot be empty." in triager.get(empty.location).get_data(as_text=True)

    editor = staff_login("editor")
    with app.app_context():
        reply_id = db.session.scalar(select(Reply.id))
    approved = form_post(
        editor,
        f"/staff/replies/{reply_id}/approve",
        {"question": "单位食堂浪费严重。", "answer": "已整改。"},
        form_url="/staff/replies/pending",
        headers=english,
    )
    page = editor.get(approved.location).get_data(as_text=True)
    assert f"Publication approved ({receipt.code})." in page and "已批准公开" not in page
    rejected = form_post(
        editor,
        f"/staff/replies/{reply_id}/reject",
        {"reason": "涉及个案"},
        form_url="/staff/replies/pending",
        headers=english,
    )
    page = editor.get(rejected.location).get_data(as_text=True)
    assert f"Publication declined ({receipt.code})." in page and "已不予公开" not in page


def test_spam_cannot_be_answered(app: Flask, published_notice: str, staff_login: Any) -> None:
    receipt = _record(app, published_notice, status="spam")
    response = _reply(staff_login("triager"), receipt.code, "答复。")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Reply)) is None
        assert db.session.get(Submission, receipt.submission_id).status == "spam"


def test_canned_reply_prefills_from_finding_measures(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    receipt = _record(app, published_notice)
    client = staff_login("triager")
    page = client.get(f"/staff/submissions/{receipt.code}/reply?canned=0").get_data(as_text=True)
    with app.app_context():
        from portal.notices.models import Finding

        finding = db.session.scalar(select(Finding).where(Finding.number == 3))
        first_measure = finding.measures[0].text
    assert "第3项问题" in page and first_measure[:20] in page


# --- anonymise (pure) ------------------------------------------------------------------------

HAN = st.text(
    alphabet=st.sampled_from(
        "的一是了不在有人这中大为上个国我以要他时来用们生到作地于出就分对成会可"
    ),
    max_size=20,
)
MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
ID_NUMBER = st.from_regex(
    r"[1-6][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])[0-2][0-9][0-9]{3}[0-9X]", fullmatch=True
)
EMAIL = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{2,8}\.(com|cn|org)", fullmatch=True)
LANDLINE = st.from_regex(r"0[1-9][0-9]{1,2}-[1-9][0-9]{6,7}", fullmatch=True)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(HAN, st.one_of(MOBILE, ID_NUMBER, EMAIL, LANDLINE), HAN)
def test_contact_data_never_survives(before: str, secret: str, after: str) -> None:
    out = anonymise(before + secret + after)
    assert secret not in out
    assert before.strip() in out or not before.strip()


@SETTINGS
@given(HAN, st.sampled_from(["张伟", "王芳", "欧阳娜娜"]), HAN)
def test_known_names_never_survive(before: str, name: str, after: str) -> None:
    assert name not in anonymise(f"{before}{name}{after}", names=[name])


@SETTINGS
@given(HAN)
def test_text_without_personal_data_is_unchanged_and_anonymise_is_idempotent(text: str) -> None:
    assert anonymise(text) == text
    once = anonymise(text + "联系电话13912345678，王科长")
    assert anonymise(once) == once


def test_names_before_titles_and_introductions() -> None:
    out = anonymise("我叫赵小红，向王局长反映过，刘建国科长说不归他管。联系人：陈静")
    for name in ("赵小红", "王局长", "刘建国", "陈静"):
        assert name not in out
    assert "向某局长" in out and "某科长" in out
    assert anonymise("管理处处长和党组书记开会") == "管理处处长和党组书记开会"
