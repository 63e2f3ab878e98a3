"""Triage with two offices side by side: staff of office A never see office B's citizens.

Office A (甲单位) publishes the seed notice, office B (乙单位) a housing bureau's; each has
submissions whose texts carry a marker. A triager of A must never meet B's marker in a list, a
count, a search, a saved view or a page, gets 404 on B's pages (their existence is never
confirmed), and cannot assign or merge across the two offices. A viewer of A reads A; the
supervisor reads both and writes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.triage import queue
from portal.triage.models import Note, Reply
from tests.conftest import SEED_NOTICE, csrf_token_from, form_post
from tests.fixtures.intake import gen_pdf

HOUSING_NOTICE = Path(__file__).parent / "data" / "office_routing" / "housing-bureau-notice.txt"
A_MARK = "甲单位食堂浪费严重"
B_MARK = "乙单位物业乱收费"
TWIN = "我是东城街道居民，强烈要求查处化工厂偷排污水问题，河道发黑发臭已经三年，请尽快处理。"


@dataclass
class Two:
    a_id: int
    b_id: int
    a_notice: int
    b_notice: int
    a_codes: list[str]
    b_codes: list[str]
    b_attachment: int


def _record(notice_slug: str, body: str, **kw: Any) -> Any:
    from portal.intake.service import Contact, Incoming, record_submission
    from portal.notices.models import Notice

    notice = db.session.scalar(select(Notice).where(Notice.slug == notice_slug))
    kw.setdefault("channel", "web")
    kw.setdefault("consent", True)
    kw.setdefault("contact", Contact(name="王芳", phone="13912345678", email="wf@example.com"))
    return record_submission(Incoming(notice=notice, body=body, **kw))


@pytest.fixture
def two(app: Flask) -> Two:
    from portal.intake.service import IncomingFile
    from portal.notices.service import import_notice
    from portal.offices.service import create_office

    with app.app_context():
        a = create_office("a", name="甲单位")
        b = create_office("b", name="乙单位")
        b.letterhead, b.return_address, b.return_postcode = "乙单位信笺", "乙市乙路1号", "510000"
        a_notice = import_notice(SEED_NOTICE.read_text(), slug="a-notice", publish=True, office=a)
        b_text = HOUSING_NOTICE.read_text()
        b_notice = import_notice(b_text, slug="b-notice", publish=True, office=b)
        db.session.commit()
        pdf = [IncomingFile("证明.pdf", gen_pdf(), "application/pdf")]
        a_codes = [
            _record("a-notice", A_MARK + "，每天倒掉很多饭菜。").code,
            _record("a-notice", TWIN).code,
        ]
        b_codes = [
            _record("b-notice", B_MARK + "，公共收益从不公开。", attachments=pdf).code,
            _record("b-notice", TWIN).code,
        ]
        attachment = db.session.scalar(
            select(Submission).where(Submission.code == b_codes[0])
        ).attachments[0]
        return Two(
            a.id, b.id, a_notice.notice.id, b_notice.notice.id, a_codes, b_codes, attachment.id
        )


def _html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _post(client: FlaskClient, url: str, data: dict[str, Any] | None = None) -> Any:
    token = csrf_token_from(client.get("/staff/account").get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def test_a_triager_never_sees_b_in_the_queue_counts_or_search(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    client = staff_login("triager", user=make_user("triager", offices=["a"]))
    page = _html(client, "/staff/queue")
    assert A_MARK in page and B_MARK not in page
    assert not any(code in page for code in two.b_codes)
    assert "共 2 件" in page  # A's two, not four
    assert "乙单位" not in page  # no office filter naming B, no B notice in the choices
    notices = re.search(r'<select id="f-notice".*?</select>', page, re.S)
    assert notices is not None
    assert f'value="{two.b_notice}"' not in notices[0] and f'value="{two.a_notice}"' in notices[0]

    # Search: B's words find nothing, not even B's twin of an A text.
    assert B_MARK not in _html(client, "/staff/queue?q=物业乱收费")
    twins = _html(client, "/staff/queue?q=化工厂偷排")
    assert two.a_codes[1] in twins and two.b_codes[1] not in twins
    # B's notice as a filter: nothing of B (the scope holds whatever the filter says).
    assert B_MARK not in _html(client, f"/staff/queue?notice={two.b_notice}")

    # Naming office B is refused, not answered with an empty page.
    refused = client.get(f"/staff/queue?office={two.b_id}")
    assert refused.status_code == 303
    assert "office" in client.get(refused.location).get_data(as_text=True)
    assert client.get("/staff/queue?office=99999").status_code == 303
    assert A_MARK in _html(client, f"/staff/queue?office={two.a_id}")


def test_saved_views_cannot_name_another_office(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    from portal.triage.models import SavedView

    client = staff_login("triager", user=make_user("triager", offices=["a"]))
    saved = form_post(
        client,
        "/staff/queue/views",
        {"name": "乙的", "office": str(two.b_id)},
        form_url="/staff/queue",
    )
    assert saved.status_code == 303
    form_post(
        client,
        "/staff/queue/views",
        {"name": "甲的", "office": str(two.a_id)},
        form_url="/staff/queue",
    )
    with app.app_context():
        assert [v.name for v in db.session.scalars(select(SavedView))] == ["甲的"]
    page = _html(client, "/staff/queue")
    assert "甲的" in page and "乙的" not in page


@pytest.mark.config(QUEUE_COUNTS_TTL=60)
def test_cached_counts_are_never_shared_between_offices(app: Flask, two: Two) -> None:
    with app.app_context():
        f = queue.parse_filter({})
        today = date.today()
        for office, codes in ((two.a_id, two.a_codes), (two.b_id, two.b_codes)):
            result = queue.page(f, user_id=None, today=today, offices=frozenset({office}))
            assert result.counts == {"received": len(codes)}
            assert sorted(s.code for s in result.rows) == sorted(codes)
        nobody = queue.page(f, user_id=None, today=today, offices=frozenset())
        assert nobody.counts == {} and nobody.rows == []
        everyone = queue.page(f, user_id=None, today=today, offices=None)
        assert everyone.counts == {"received": 4}


def _b_pages(two: Two, reply_id: int) -> list[tuple[str, str]]:
    code = two.b_codes[0]
    base = f"/staff/submissions/{code}"
    return [
        ("GET", base),
        ("GET", f"{base}/attachments/{two.b_attachment}"),
        ("POST", f"{base}/personal-data"),
        ("POST", f"{base}/findings"),
        ("POST", f"{base}/notes"),
        ("POST", f"{base}/assign"),
        ("POST", f"{base}/status"),
        ("POST", f"{base}/merge"),
        ("POST", f"{base}/refer"),
        ("GET", f"{base}/reply"),
        ("POST", f"{base}/reply"),
        ("GET", f"{base}/replies/{reply_id}/letter"),
        ("GET", f"/staff/intake/letters/{code}"),
        ("POST", f"/staff/intake/letters/{code}/pdf"),
    ]


def _b_reply(app: Flask, two: Two, make_user: Any) -> int:
    from portal.staff.models import User
    from portal.triage.replies import send_reply

    author = make_user("triager", offices=["b"])
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.code == two.b_codes[0]))
        reply = send_reply(
            submission,
            body="乙单位的答复：物业公司已整改。",
            actor_user=db.session.get(User, author.id),
            publish_request=True,
        )
        db.session.commit()
        return reply.id


def test_a_staff_get_404_on_every_page_of_b(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    reply_id = _b_reply(app, two, make_user)
    triager = staff_login("triager", user=make_user("triager", offices=["a"]))
    editor = staff_login("editor", user=make_user("editor", offices=["a"]))
    for method, url in _b_pages(two, reply_id):
        response = triager.get(url) if method == "GET" else _post(triager, url, {"reason": "核实"})
        assert response.status_code == 404, (url, response.status_code)
    for action in ("approve", "reject"):
        url = f"/staff/replies/{reply_id}/{action}"
        assert _post(editor, url, {"answer": "x", "reason": "x"}).status_code == 404
    assert "乙单位的答复" not in _html(editor, "/staff/replies/pending")
    data = {"codes": two.b_codes[0], "reason": "核实"}
    labels = _post(triager, "/staff/intake/labels", data).get_data(as_text=True)
    assert "王芳" not in labels and two.b_codes[0] in labels  # listed as not found
    with app.app_context():
        b = db.session.scalar(select(Submission).where(Submission.code == two.b_codes[0]))
        assert b.status == "replied" and b.assignee_id is None
        assert db.session.scalars(select(Note).where(Note.submission_id == b.id)).all() == []
        views = db.session.scalars(
            select(audit.Event).where(
                audit.Event.action.in_(("personal_data.view", "attachment.download")),
                audit.Event.object_id == str(b.id),
            )
        ).all()
        assert views == []  # nothing of B was shown to A


def test_no_assigning_or_merging_across_offices(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    b_worker = make_user("triager", offices=["b"])
    a_worker = make_user("triager", offices=["a"])
    client = staff_login("triager", user=make_user("triager", offices=["a"]))
    url = f"/staff/submissions/{two.a_codes[1]}"
    page = _html(client, url)
    choices = re.search(r'<select id="assignee".*?</select>', page, re.S)
    assert choices is not None
    assert f'value="{a_worker.id}"' in choices[0] and f'value="{b_worker.id}"' not in choices[0]
    assert two.b_codes[1] not in page  # B's identical text is no near-duplicate of A's

    form_post(client, url + "/assign", {"assignee": b_worker.id}, form_url=url)
    merged = form_post(
        client, url + "/merge", {"original": two.b_codes[1], "reason": "同"}, form_url=url
    )
    assert "找不到该回执编号" in client.get(merged.location).get_data(as_text=True)
    with app.app_context():
        a = db.session.scalar(select(Submission).where(Submission.code == two.a_codes[1]))
        assert a.assignee_id is None and a.status == "received"
        b_ids = list(
            db.session.scalars(select(Submission.id).where(Submission.office_id == two.b_id))
        )

    # Bulk actions skip rows of other offices, as if never ticked.
    form_post(
        client,
        "/staff/queue/bulk",
        {"ids": b_ids, "action": "status", "status": "spam", "reason": "x"},
        form_url="/staff/queue",
    )
    # An admin sees both, yet still cannot merge one office's case into another's.
    admin = staff_login("admin")
    merged = form_post(
        admin, url + "/merge", {"original": two.b_codes[1], "reason": "同"}, form_url=url
    )
    assert "只能合并同一单位的意见" in admin.get(merged.location).get_data(as_text=True)
    with app.app_context():
        statuses = db.session.scalars(select(Submission.status).where(Submission.id.in_(b_ids)))
        assert set(statuses) == {"received"}
        a = db.session.scalar(select(Submission).where(Submission.code == two.a_codes[1]))
        assert a.status == "received"


WRITES = ("notes", "status", "assign", "merge", "refer", "findings", "personal-data", "reply")


def test_a_viewer_reads_a_and_writes_nothing(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    client = staff_login("viewer", user=make_user("viewer", offices=["a"]))
    assert A_MARK in _html(client, f"/staff/submissions/{two.a_codes[0]}")
    assert client.get(f"/staff/submissions/{two.b_codes[0]}").status_code == 404
    for action in WRITES:
        url = f"/staff/submissions/{two.a_codes[0]}/{action}"
        assert _post(client, url, {"body": "x", "reason": "核实"}).status_code == 403, action


def test_a_triager_who_only_views_b_reads_b_but_cannot_act_there(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    from portal.offices.models import Office
    from portal.staff.models import User
    from portal.staff.service import set_membership

    user = make_user("triager", offices=["a"])
    with app.app_context():
        set_membership(
            db.session.get(User, user.id), db.session.get(Office, two.b_id), "viewer", actor="test"
        )
        db.session.commit()
    client = staff_login("triager", user=user)
    page = _html(client, f"/staff/submissions/{two.b_codes[0]}")
    assert B_MARK in page and 'action="/staff/submissions/' + two.b_codes[0] + '/notes"' not in page
    for action in WRITES:
        url = f"/staff/submissions/{two.b_codes[0]}/{action}"
        assert _post(client, url, {"body": "x", "reason": "核实"}).status_code == 403, action
    assert (
        client.get(
            f"/staff/submissions/{two.b_codes[0]}/attachments/{two.b_attachment}"
        ).status_code
        == 403
    )


def test_the_supervisor_reads_every_office_and_writes_nothing(
    app: Flask, two: Two, staff_login: Any, make_user: Any
) -> None:
    reply_id = _b_reply(app, two, make_user)
    client = staff_login("supervisor")
    queue_page = _html(client, "/staff/queue")
    assert A_MARK in queue_page and B_MARK in queue_page and "乙单位" in queue_page
    assert "共 4 件" in queue_page
    assert B_MARK in _html(client, f"/staff/queue?office={two.b_id}")
    for code in (two.a_codes[0], two.b_codes[0]):
        assert client.get(f"/staff/submissions/{code}").status_code == 200
    for method, url in _b_pages(two, reply_id)[1:]:
        response = client.get(url) if method == "GET" else _post(client, url, {"reason": "核实"})
        assert response.status_code == 403, (url, response.status_code)
    for url in (f"/staff/replies/{reply_id}/approve", "/staff/queue/bulk"):
        assert _post(client, url, {"answer": "x"}).status_code == 403


def test_letters_mail_and_track_speak_for_the_submissions_office(
    app: Flask, two: Two, staff_login: Any, make_user: Any, runner: Any
) -> None:
    from portal.intake.service import Contact

    with app.app_context():
        receipt = _record(
            "b-notice",
            "来信反映小区燃气管道老化。",
            channel="letter",
            contact=Contact(name="赵六", address="523000 东莞市南城区某路1号"),
        )
        email = _record("b-notice", B_MARK + "，再次反映。")
    client = staff_login("triager", user=make_user("triager", offices=["b"]))
    letter = _html(client, f"/staff/intake/letters/{receipt.code}")
    assert "乙单位信笺" in letter and "乙市乙路1号" in letter and "甲单位" not in letter
    url = f"/staff/submissions/{email.code}/reply"
    form_post(client, url, {"body": "已责成物业公司整改。"})
    mails = json.loads(runner.invoke(args=["outbox", "list", "--json"]).output)
    with app.app_context():
        reply_mail = db.session.scalar(
            select(Reply).where(Reply.submission_id == email.submission_id)
        )
        assert reply_mail is not None
        from portal.outbox.models import OutboxMessage

        sent = db.session.get(OutboxMessage, reply_mail.outbox_id)
        assert sent.text.rstrip().endswith("乙单位")
    assert any(m["submission_code"] == email.code for m in mails)

    public = app.test_client()
    form_post(public, "/track", {"code": receipt.code, "secret": receipt.secret})
    status = public.get("/track/status").get_data(as_text=True)
    assert "承办单位" in status and "乙单位" in status


def test_digests_list_only_the_offices_the_reader_still_serves(
    app: Flask, two: Two, make_user: Any
) -> None:
    from portal.triage.deadlines import build_digests
    from portal.workdays import WorkCalendar

    worker = make_user("triager", offices=["a"])
    with app.app_context():
        for code in (two.a_codes[0], two.b_codes[0]):  # B's case: left over from a former role
            db.session.scalar(
                select(Submission).where(Submission.code == code)
            ).assignee_id = worker.id
        db.session.commit()
        digests = build_digests(date.today(), WorkCalendar.from_config(app.config))
        assert [d.user.id for d in digests] == [worker.id]
        listed = [s.code for s in digests[0].overdue + digests[0].due_soon + digests[0].open]
        assert listed == [two.a_codes[0]]
