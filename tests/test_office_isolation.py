"""Nothing of office B ever reaches the staff of office A.

Two offices live in one deployment, each with a published notice, submissions, an attachment,
a reply waiting for an editor's approval and a quarantined mail; one more submission waits,
unrouted, for the inspection office. A triager (and a viewer, and an editor) of office A walks
every staff URL in WALK, each one aimed at B's objects where it takes an object, and every
download is opened (XLSX and DOCX are zip files: their XML is read too). No response may carry
anything that identifies B's citizens or their opinions, and no write aimed at B changes B.

WALK must name every staff endpoint: a new view missing from it fails
test_every_staff_endpoint_is_walked, as the role table does for roles.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.extensions import db
from tests.conftest import form_post
from tests.fixtures.intake import gen_pdf

# Strings that exist only in office B's (and the unrouted) data.
B_SUBJECT = "乙局标记QX7"
B_BODY = "乙局正文标记ZK9，食堂采购价格虚高。"
B_NAME = "乙方证人甲"
B_PHONE = "13900001111"
B_FILE = "乙方附件ZF3.pdf"
B_MAIL_SUBJECT = "乙局隔离邮件QM5"
B_REPLY = "乙局答复标记RP8"
B_NOTICE_SLUG = "yi-notice-b"
UNROUTED_BODY = "待分派正文标记UR4，反映某单位公车私用。"
A_BODY = "甲局正文标记，单位逢年过节给职工发放购物卡，希望彻查。"


@dataclass
class World:
    a_code: str
    b_code: str
    b_id: int
    b_attachment: int
    b_reply: int
    b_mail: int
    b_office_id: int
    b_notice_id: int
    unrouted_code: str

    @property
    def markers(self) -> list[str]:
        # Each with Chinese characters or long enough that a random token (CSRF, nonce) can
        # never contain it by chance.
        return [
            self.b_code,
            self.unrouted_code,
            B_SUBJECT,
            "正文标记ZK9",
            B_NAME,
            B_PHONE,
            "附件ZF3",
            "邮件QM5",
            "答复标记RP8",
            "正文标记UR4",
            B_NOTICE_SLUG,
        ]


def _notice_b_text() -> str:
    from pathlib import Path

    return (Path(__file__).parent / "data" / "notices" / "b-compact-straight-quotes.txt").read_text(
        encoding="utf-8"
    )


@pytest.fixture
def world(app: Flask, published_notice: str) -> World:
    from portal.intake.mail.models import MailMessage
    from portal.intake.service import Contact, Incoming, IncomingFile, record_submission
    from portal.notices.models import Notice
    from portal.notices.service import import_notice
    from portal.offices.service import create_office
    from portal.staff.models import User
    from portal.staff.service import create_user
    from portal.triage.replies import send_reply

    with app.app_context():
        office_b = create_office("yi-ju", name="乙区某局", short_name="乙局")
        result = import_notice(_notice_b_text(), slug=B_NOTICE_SLUG, publish=True, office=office_b)
        db.session.commit()
        notice_b = result.notice
        notice_a = db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        a = record_submission(
            Incoming(
                channel="web",
                notice=notice_a,
                body=A_BODY,
                consent=True,
                contact=Contact(name="甲方证人", phone="13800002222", email="a@example.com"),
                attachments=[IncomingFile("甲方附件.pdf", gen_pdf(), "application/pdf")],
            )
        )
        b = record_submission(
            Incoming(
                channel="web",
                notice=db.session.get(Notice, notice_b.id),
                subject=B_SUBJECT,
                body=B_BODY,
                consent=True,
                contact=Contact(name=B_NAME, phone=B_PHONE, email="b@example.com"),
                attachments=[IncomingFile(B_FILE, gen_pdf(), "application/pdf")],
            )
        )
        unrouted = record_submission(
            Incoming(channel="letter", notice=None, body=UNROUTED_BODY, unrouted=True)
        )
        from portal.intake.models import Submission

        sub_b = db.session.get(Submission, b.submission_id)
        assert sub_b is not None and sub_b.office_id == office_b.id
        author = create_user(
            "b-triager@b.test",
            role="triager",
            password="correct horse battery staple 9",
            offices=[office_b],
        )
        db.session.flush()
        reply = send_reply(sub_b, body=B_REPLY, actor_user=author, publish_request=True)
        raw = f"From: b@example.com\r\nSubject: {B_MAIL_SUBJECT}\r\n\r\nbody\r\n".encode()
        mail = MailMessage(
            dedupe_key="isolation-b",
            sha256="0" * 64,
            raw=zlib.compress(raw),
            size=len(raw),
            outcome="quarantined",
            reason="test",
            subject=B_MAIL_SUBJECT,
            office_id=office_b.id,
            release_state="pending",
        )
        db.session.add(mail)
        db.session.commit()
        assert db.session.get(User, author.id) is not None
        return World(
            a_code=a.code,
            b_code=b.code,
            b_id=b.submission_id,
            b_attachment=sub_b.attachments[0].id,
            b_reply=reply.id,
            b_mail=mail.id,
            b_office_id=office_b.id,
            b_notice_id=notice_b.id,
            unrouted_code=unrouted.code,
        )


# (method, url template). Templates name B's objects: {b_code}, {b_attachment}, {b_reply},
# {b_mail}, {b_office_id}, {b_notice_id}, {b_notice}, {b_office}; {a_code} for A's own.
WALK: list[tuple[str, str]] = [
    ("GET", "/staff/"),
    ("GET", "/staff/account"),
    ("GET", "/staff/account/2fa"),
    ("POST", "/staff/account/password"),
    ("POST", "/staff/account/recovery-codes"),
    ("GET", "/staff/reauth"),
    ("GET", "/staff/users"),
    ("POST", "/staff/users/1/enrol-link"),
    ("POST", "/staff/users"),
    ("POST", "/staff/users/1/disable"),
    ("POST", "/staff/users/1/reset-2fa"),
    ("POST", "/staff/users/1/memberships"),
    ("POST", "/staff/users/1/role"),
    ("GET", "/staff/audit/"),
    ("GET", "/staff/audit/verify"),
    ("GET", "/staff/queue"),
    ("GET", "/staff/queue?office={b_office_id}"),
    ("GET", "/staff/queue?notice={b_notice_id}"),
    # Search terms that match B's opinion without being a marker themselves (the page repeats
    # the term in its search box).
    ("GET", "/staff/queue?q=乙局标记"),
    ("GET", "/staff/queue?q=采购价格虚高&status=received&sort=due"),
    ("GET", "/staff/queue?q=公车私用"),
    ("POST", "/staff/queue/bulk"),
    ("POST", "/staff/queue/views"),
    ("POST", "/staff/queue/views/1/delete"),
    ("GET", "/staff/submissions/{b_code}"),
    ("GET", "/staff/submissions/{unrouted_code}"),
    ("GET", "/staff/submissions/{b_code}/attachments/{b_attachment}"),
    ("GET", "/staff/submissions/{a_code}/attachments/{b_attachment}"),
    ("GET", "/staff/submissions/{b_code}/attachments/{b_attachment}/preview"),
    ("GET", "/staff/submissions/{a_code}/attachments/{b_attachment}/preview"),
    ("POST", "/staff/submissions/{b_code}/personal-data"),
    ("POST", "/staff/submissions/{b_code}/findings"),
    ("POST", "/staff/submissions/{b_code}/suggestions/dismiss"),
    ("POST", "/staff/submissions/{b_code}/notes"),
    ("POST", "/staff/submissions/{b_code}/assign"),
    ("POST", "/staff/submissions/{b_code}/status"),
    ("POST", "/staff/submissions/{b_code}/merge"),
    ("POST", "/staff/submissions/{a_code}/merge"),
    ("GET", "/staff/submissions/{b_code}/merge"),
    ("GET", "/staff/submissions/{a_code}/merge?q=采购价格虚高"),
    ("GET", "/staff/submissions/{b_code}/merge/confirm?original={a_code}"),
    ("GET", "/staff/submissions/{a_code}/merge/confirm?original={b_code}"),
    ("POST", "/staff/submissions/{b_code}/refer"),
    ("GET", "/staff/submissions/{b_code}/refer/suggested"),
    ("POST", "/staff/submissions/{b_code}/ask"),
    ("POST", "/staff/submissions/{b_code}/resume"),
    ("POST", "/staff/submissions/{b_code}/rating"),
    ("POST", "/staff/submissions/{b_code}/not-me"),
    ("POST", "/staff/submissions/{b_code}/not-me/upheld"),
    ("GET", "/staff/lookup?code={b_code}"),
    ("GET", "/staff/submissions/{b_code}/reply"),
    ("POST", "/staff/submissions/{b_code}/reply"),
    ("GET", "/staff/submissions/{b_code}/replies/{b_reply}/letter"),
    ("GET", "/staff/replies/pending"),
    ("POST", "/staff/replies/{b_reply}/approve"),
    ("POST", "/staff/replies/{b_reply}/reject"),
    ("GET", "/staff/intake/attachments/{b_attachment}"),
    ("GET", "/staff/intake/new"),
    ("POST", "/staff/intake/new"),
    ("GET", "/staff/intake/receipt"),
    ("GET", "/staff/intake/bulk"),
    ("POST", "/staff/intake/bulk"),
    ("POST", "/staff/intake/bulk/confirm"),
    ("GET", "/staff/intake/bulk/template.csv"),
    ("GET", "/staff/intake/bulk/template.xlsx"),
    ("GET", "/staff/intake/labels"),
    ("GET", "/staff/intake/labels?code={b_code}"),
    ("POST", "/staff/intake/labels"),
    ("GET", "/staff/intake/letters/{b_code}"),
    ("POST", "/staff/intake/letters/{b_code}"),
    ("POST", "/staff/intake/letters/{b_code}/pdf"),
    ("GET", "/staff/intake/referrals/{b_code}"),
    ("GET", "/staff/intake/referrals/{b_code}/pdf"),
    ("POST", "/staff/intake/referrals/{b_code}"),
    ("POST", "/staff/intake/referrals/{b_code}/pdf"),
    ("GET", "/staff/canned-replies"),
    ("GET", "/staff/canned-replies?office={b_office_id}"),
    ("POST", "/staff/canned-replies"),
    ("GET", "/staff/canned-replies/1"),
    ("POST", "/staff/canned-replies/1"),
    ("POST", "/staff/canned-replies/1/retire"),
    ("GET", "/staff/mail/quarantine"),
    ("GET", "/staff/mail/quarantine/{b_mail}"),
    ("GET", "/staff/mail/quarantine/{b_mail}/raw"),
    ("POST", "/staff/mail/quarantine/{b_mail}/release"),
    ("POST", "/staff/mail/quarantine/{b_mail}/delete"),
    ("GET", "/staff/mail/follow-ups"),
    ("POST", "/staff/mail/follow-ups/{b_mail}/accept"),
    ("POST", "/staff/mail/follow-ups/{b_mail}/reject"),
    ("GET", "/staff/dashboard"),
    ("GET", "/staff/dashboard?office={b_office_id}"),
    ("POST", "/staff/ledger.xlsx"),
    ("POST", "/staff/ledger.xlsx?office={b_office_id}"),
    ("GET", "/staff/notices/"),
    ("GET", "/staff/notices/new"),
    ("POST", "/staff/notices/new"),
    ("GET", "/staff/notices/{b_notice}"),
    ("GET", "/staff/notices/{b_notice}/revise"),
    ("POST", "/staff/notices/{b_notice}/revise"),
    ("POST", "/staff/notices/{b_notice}/publish"),
    ("POST", "/staff/notices/{b_notice}/withdraw"),
    ("GET", "/staff/notices/{b_notice}/revisions/1"),
    ("POST", "/staff/notices/{b_notice}/findings/1/status"),
    ("POST", "/staff/notices/{b_notice}/window"),
    ("GET", "/staff/notices/{b_notice}/poster"),
    ("GET", "/staff/notices/{b_notice}/poster.pdf"),
]
# Added by the views of issue 13 once they exist (checked by the completeness test).
WALK_IF_REGISTERED: list[tuple[str, str]] = [
    ("GET", "/staff/routing"),
    ("POST", "/staff/submissions/{unrouted_code}/route"),
    ("GET", "/staff/oversight/"),
    ("GET", "/staff/oversight/rounds/r1/report.docx"),
    ("GET", "/staff/report.docx"),
    ("GET", "/staff/report.docx?office={b_office_id}"),
    ("GET", "/staff/offices"),
    ("POST", "/staff/offices"),
    ("GET", "/staff/offices/{b_office}"),
    ("POST", "/staff/offices/{b_office}"),
    ("GET", "/staff/rounds"),
    ("POST", "/staff/rounds"),
]
# Reached before login (the login steps) or ending the session.
NOT_WALKED = {"staff.login", "staff.verify", "staff.enrol_link", "staff.logout"}


def _walk(app: Flask) -> list[tuple[str, str]]:
    adapter = app.url_map.bind("localhost")
    rows = list(WALK)
    for method, url in WALK_IF_REGISTERED:
        try:
            adapter.match(url.split("?")[0].format(**_PLACEHOLDERS), method=method)
        except (NotFound, MethodNotAllowed):  # not registered (yet)
            continue
        rows.append((method, url))
    return rows


_PLACEHOLDERS = {
    "b_code": "X",
    "a_code": "Y",
    "unrouted_code": "Z",
    "b_attachment": 1,
    "b_reply": 1,
    "b_mail": 1,
    "b_office_id": 1,
    "b_notice_id": 1,
    "b_notice": "n",
    "b_office": "o",
}


def test_every_staff_endpoint_is_walked(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    walked = set()
    for method, url in _walk(app):
        path = url.split("?")[0].format(**_PLACEHOLDERS)
        walked.add(adapter.match(path, method=method)[0])
    staff = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff") and rule.endpoint != "static"
    }
    assert staff - NOT_WALKED - walked == set()


def _texts(response: Any) -> str:
    """Everything a person could read in the response: the body, and for a zip download
    (XLSX, DOCX) every member; headers too (a file name can leak)."""
    data = response.get_data()
    parts = [str(response.headers)]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts += [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
    else:
        parts.append(data.decode("utf-8", "replace"))
    text = "\n".join(parts)
    # JSON answers escape non-ASCII: read them as a person's tool would.
    if response.mimetype == "application/json":
        text += json.dumps(response.get_json(silent=True), ensure_ascii=False)
    return text


def _b_state(app: Flask, world: World) -> tuple[Any, ...]:
    from portal.intake.mail.models import MailMessage
    from portal.intake.models import Submission
    from portal.notices.models import Notice
    from portal.triage.models import Note, Reply

    with app.app_context():
        sub = db.session.get(Submission, world.b_id)
        assert sub is not None
        notes = db.session.scalar(select(func.count(Note.id)).where(Note.submission_id == sub.id))
        reply = db.session.get(Reply, world.b_reply)
        mail = db.session.get(MailMessage, world.b_mail)
        notice = db.session.get(Notice, world.b_notice_id)
        assert reply is not None and mail is not None and notice is not None
        return (
            sub.status,
            sub.assignee_id,
            sorted(sub.finding_numbers),
            notes,
            reply.public_state,
            mail.release_state,
            notice.state,
            notice.version,
            notice.feedback_closes_at,
        )


@pytest.mark.parametrize("role", ["triager", "viewer", "editor"])
def test_office_a_staff_never_see_or_change_office_b(
    app: Flask, staff_login: Any, world: World, role: str
) -> None:
    client = staff_login(role)  # holds ``role`` in the default office (A) only
    values = {
        "a_code": world.a_code,
        "b_code": world.b_code,
        "unrouted_code": world.unrouted_code,
        "b_attachment": world.b_attachment,
        "b_reply": world.b_reply,
        "b_mail": world.b_mail,
        "b_office_id": world.b_office_id,
        "b_notice_id": world.b_notice_id,
        "b_notice": B_NOTICE_SLUG,
        "b_office": "yi-ju",
    }
    before = _b_state(app, world)
    leaks = []
    for method, template in _walk(app):
        url = template.format(**values)
        if method == "GET":
            response = client.get(url)
        else:
            # The label form echoes the codes typed: typed as a person might, B's code is
            # still found, and only a label printed for it would show the marker.
            typed = world.b_code.replace("-", " ").lower()
            data = {"code": world.b_code, "codes": typed, "target": world.b_code,
                    "reason": "隔离检查"}  # fmt: skip
            response = form_post(client, url, data, form_url="/staff/account")
        assert response.status_code < 500, (role, method, url, response.status_code)
        text = _texts(response)
        found = [m for m in world.markers if m in text]
        if found:
            leaks.append((method, url, response.status_code, found))
    assert leaks == []
    assert _b_state(app, world) == before


def test_the_walk_can_see_a_leak(app: Flask, staff_login: Any, world: World) -> None:
    """The same walk as an admin (who may read everything) finds B's markers: the markers and
    the data are real, so an empty result above means the scoping held."""
    client = staff_login("admin")
    page = client.get(f"/staff/submissions/{world.b_code}")
    assert page.status_code == 200
    assert any(m in _texts(page) for m in world.markers)
    queue = _texts(client.get("/staff/queue"))
    assert world.b_code in queue and world.unrouted_code in queue


def test_cli_export_for_one_office_leaves_the_other_out(
    app: Flask, world: World, runner: Any
) -> None:
    result = runner.invoke(args=["submissions", "export", "--format", "json", "--office", "main"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    codes = {row["code"] for row in rows}
    assert world.a_code in codes
    assert world.b_code not in codes and world.unrouted_code not in codes
    assert not [m for m in world.markers if m in result.stdout]
    everything = runner.invoke(args=["submissions", "export", "--format", "json"])
    assert world.b_code in {row["code"] for row in json.loads(everything.stdout)}
