"""A submission's detail page: masked personal data, findings, notes, status, merge, referral,
attachments — and who may do what."""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission, SubmissionFinding
from portal.notices.models import Notice
from portal.staff.models import ROLES
from portal.triage.models import DuplicateLink, Referral
from tests.conftest import form_post
from tests.fixtures.intake import gen_pdf

READERS = ("admin", "supervisor", "triager", "viewer")  # the supervisor reads, never writes
ACTORS = ("admin", "triager")
ROUTERS = ("admin", "supervisor")  # the routing desk (test_routing_desk.py)
CAMPAIGN = (
    "强烈要求查处化工厂偷排污水问题，河道发黑发臭已经三年，群众多次反映无人处理，请开展公益诉讼。"
)


def _record(app: Flask, slug: str | None = None, **kw: Any) -> Any:
    from portal.intake.service import Contact, Incoming, IncomingFile, record_submission

    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug)) if slug else None
        kw.setdefault("channel", "web")
        kw.setdefault("body", "单位逢年过节给职工发放购物卡，工会经费被挪作他用，希望彻查。")
        kw.setdefault("consent", True)
        kw.setdefault("contact", Contact(name="李明", phone="13812341234", email="li@example.com"))
        if kw.pop("pdf", False):
            kw["attachments"] = [IncomingFile("身份证明.pdf", gen_pdf(), "application/pdf")]
        return record_submission(Incoming(notice=notice, **kw))


def _get(app: Flask, code: str) -> Submission:
    return db.session.scalar(select(Submission).where(Submission.code == code))


def _access_table(code: str, other: str, attachment_id: int) -> list[tuple[str, str, tuple]]:
    base = f"/staff/submissions/{code}"
    return [
        ("GET", "/staff/queue", READERS),
        ("GET", base, READERS),
        ("GET", f"{base}/attachments/{attachment_id}", ACTORS),
        ("GET", f"{base}/attachments/{attachment_id}/preview", ACTORS),
        ("POST", f"{base}/personal-data", ACTORS),
        ("POST", f"{base}/findings", ACTORS),
        ("POST", f"{base}/suggestions/dismiss", ACTORS),
        ("POST", f"{base}/notes", ACTORS),
        ("POST", f"{base}/assign", ACTORS),
        ("POST", f"{base}/status", ACTORS),
        ("POST", f"{base}/merge", ACTORS),
        ("GET", f"{base}/merge", ACTORS),
        ("GET", f"{base}/merge?q=购物卡", ACTORS),
        ("GET", f"{base}/merge/confirm?original={other}", ACTORS),
        ("POST", f"{base}/refer", ACTORS),
        ("GET", f"{base}/refer/suggested", ACTORS),
        ("POST", "/staff/queue/bulk", ACTORS),
        ("POST", "/staff/queue/views", READERS),
        ("POST", "/staff/queue/views/999/delete", READERS),
        ("GET", "/staff/routing", ROUTERS),
        ("POST", f"{base}/route", ROUTERS),
    ]


@pytest.fixture
def two(app: Flask, published_notice: str) -> tuple[Any, Any]:
    first = _record(app, published_notice, pdf=True)
    second = _record(app, published_notice, body="另一条意见：公众号文章审核把关不严。")
    return first, second


def test_every_triage_view_is_in_the_access_table(app: Flask, two: Any) -> None:
    with app.app_context():
        attachment_id = _get(app, two[0].code).attachments[0].id
    table = _access_table(two[0].code, two[1].code, attachment_id)
    adapter = app.url_map.bind("localhost")
    covered = {adapter.match(url.split("?")[0], method=method)[0] for method, url, _ in table}
    mine = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__
        in (
            "portal.triage.views",
            "portal.triage.queue_views",
            "portal.triage.routing_views",
            "portal.triage.merge_views",
            "portal.triage.refer_views",
        )
    }
    assert mine - covered == set()


@pytest.mark.parametrize("role", ROLES)
def test_lower_roles_get_403(app: Flask, staff_login: Any, two: Any, role: str) -> None:
    with app.app_context():
        attachment_id = _get(app, two[0].code).attachments[0].id
    client = staff_login(role)
    for method, url, allowed in _access_table(two[0].code, two[1].code, attachment_id):
        if method == "GET":
            response = client.get(url)
        else:
            response = form_post(client, url, {}, form_url="/staff/account")
        if role in allowed:
            assert response.status_code != 403, (role, url)
        else:
            assert response.status_code == 403, (role, url, response.status_code)
    with app.app_context():  # nothing a refused role sent changed the submission
        assert _get(app, two[0].code).status == "received"


def test_personal_data_is_masked_until_shown_with_a_reason(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice)
    url = f"/staff/submissions/{receipt.code}"
    viewer = staff_login("viewer")
    html = viewer.get(url).get_data(as_text=True)
    assert "李**" in html and "138****1234" in html
    assert "李明" not in html and "13812341234" not in html
    assert f"{url}/personal-data" not in html  # no "show" form for viewers

    client = staff_login("triager")
    html = client.get(url).get_data(as_text=True)
    assert "李明" not in html and 'action="' + url + '/personal-data"' in html
    refused = form_post(client, url + "/personal-data", {"reason": ""}, form_url=url)
    assert refused.status_code == 303
    shown = form_post(client, url + "/personal-data", {"reason": "需电话核实情况"}, form_url=url)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "李明" in page and "13812341234" in page and "li@example.com" in page
    assert shown.headers["Cache-Control"] == "no-store"
    with app.app_context():
        events = db.session.scalars(
            select(audit.Event).where(audit.Event.action == "personal_data.view")
        ).all()
        assert len(events) == 1
        assert events[0].details["reason"] == "需电话核实情况"
        assert set(events[0].details["fields"]) == {
            "contact_name",
            "contact_phone",
            "contact_email",
        }
        assert events[0].actor == client.user.actor
        assert events[0].object_id == str(_get(app, receipt.code).id)
    # The next plain GET is masked again.
    assert "13812341234" not in client.get(url).get_data(as_text=True)


def test_internal_notes_never_reach_the_submitter(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice)
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    form_post(client, url + "/notes", {"body": "内部备注：此人多次来电，注意核实"}, form_url=url)
    assert "内部备注：此人多次来电" in client.get(url).get_data(as_text=True)

    public = app.test_client()
    response = form_post(public, "/track", {"code": receipt.code, "secret": receipt.secret})
    assert response.status_code == 303
    status = public.get("/track/status")
    assert status.status_code == 200
    assert receipt.code in status.get_data(as_text=True)
    assert "此人多次来电" not in status.get_data(as_text=True)


def test_suggested_findings_can_be_confirmed_and_teach_the_router(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    from portal.triage.findings import router_for

    receipt = _record(app, published_notice, body="单位逢年过节给职工发购物卡，工会的钱乱花。")
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    html = client.get(url).get_data(as_text=True)
    assert "系统建议" in html
    with app.app_context():
        submission = _get(app, receipt.code)
        router = router_for(submission.notice)
        best = router.suggest(submission.body, 1)[0]
        finding = next(f for f in submission.notice.findings if f.number == best.number)
        finding_id, examples_before = finding.id, router._examples[best.number]
        count_before = len(examples_before)
    assert f'data-finding="{best.number}"' in html

    form_post(client, url + "/findings", {"finding": finding_id, "op": "confirm"}, form_url=url)
    with app.app_context():
        link = db.session.scalar(
            select(SubmissionFinding).where(SubmissionFinding.finding_id == finding_id)
        )
        assert link.source == "staff" and link.confirmed and link.by == client.user.actor
        learned = router_for(_get(app, receipt.code).notice)
        assert len(learned._examples[best.number]) == count_before + 1

    form_post(client, url + "/findings", {"finding": finding_id, "op": "remove"}, form_url=url)
    with app.app_context():
        assert _get(app, receipt.code).finding_links == []


def test_status_changes_follow_the_workflow(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice)
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    form_post(client, url + "/status", {"status": "spam"}, form_url=url)  # no reason
    form_post(client, url + "/status", {"status": "closed", "reason": "x"}, form_url=url)
    with app.app_context():
        assert _get(app, receipt.code).status == "received"
    form_post(client, url + "/status", {"status": "spam", "reason": "广告信息"}, form_url=url)
    with app.app_context():
        assert _get(app, receipt.code).status == "spam"
    html = client.get(url).get_data(as_text=True)
    assert "广告信息" in html and "已接收 → 垃圾信息" in html


def test_assignment(app: Flask, staff_login: Any, make_user: Any, published_notice: str) -> None:
    receipt = _record(app, published_notice)
    url = f"/staff/submissions/{receipt.code}"
    worker = make_user("triager")
    viewer = make_user("viewer")
    client = staff_login("triager")
    form_post(client, url + "/assign", {"assignee": viewer.id}, form_url=url)  # refused
    with app.app_context():
        assert _get(app, receipt.code).assignee_id is None
    form_post(client, url + "/assign", {"assignee": worker.id}, form_url=url)
    with app.app_context():
        assert _get(app, receipt.code).assignee_id == worker.id
    assert f"分派给 {worker.display_name}" in client.get(url).get_data(as_text=True)


def test_near_duplicates_are_found_and_merged(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    first = _record(app, published_notice, body="我是东城街道居民。" + CAMPAIGN)
    second = _record(app, published_notice, body="我是南城街道居民。" + CAMPAIGN)
    third = _record(app, published_notice, body="我是万江街道居民。" + CAMPAIGN)
    client = staff_login("triager")
    url = f"/staff/submissions/{third.code}"
    html = client.get(url).get_data(as_text=True)
    assert first.code in html and second.code in html
    assert "集中反映" in html  # three alike: a campaign
    form_post(client, url + "/merge", {"original": first.code, "reason": "同一事项"}, form_url=url)
    with app.app_context():
        merged = _get(app, third.code)
        assert merged.status == "duplicate"
        link = db.session.scalar(select(DuplicateLink))
        assert link.original.code == first.code and link.similarity > 0.6
        assert _get(app, first.code).status == "received"  # both kept
    original_page = client.get(f"/staff/submissions/{first.code}").get_data(as_text=True)
    assert "已合并到本件的重复意见" in original_page and third.code in original_page


def test_referral_with_email(app: Flask, staff_login: Any, runner: Any) -> None:
    receipt = _record(app, None, body="小区物业乱收费，不属于检察院整改范围吧？请转给住建局。")
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    data = {
        "body_name": "市住房和城乡建设局",
        "contact": "0769-12345678",
        "email": "zjj@example.gov.cn",
        "note": "物业收费问题",
        "reason": "不属于本次整改范围",
    }
    assert form_post(client, url + "/refer", data, form_url=url).status_code == 303
    with app.app_context():
        assert _get(app, receipt.code).status == "referred"
        referral = db.session.scalar(select(Referral))
        assert referral.body_name == "市住房和城乡建设局" and referral.email_sent
    mails = json.loads(runner.invoke(args=["outbox", "list", "--json"]).output)
    sent = [m for m in mails if m["to"] == "zjj@example.gov.cn"]
    assert len(sent) == 1 and "转办" in sent[0]["subject"]
    assert sent[0]["submission_code"] == receipt.code
    assert "转办至 市住房和城乡建设局" in client.get(url).get_data(as_text=True)


def test_attachments_download_safely(app: Flask, staff_login: Any, two: Any) -> None:
    with app.app_context():
        attachment = _get(app, two[0].code).attachments[0]
        url = f"/staff/submissions/{two[0].code}/attachments/{attachment.id}"
    client = staff_login("triager")
    assert url in client.get(f"/staff/submissions/{two[0].code}").get_data(as_text=True)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data.startswith(b"%PDF")
    other = f"/staff/submissions/{two[1].code}/attachments/{attachment.id}"
    assert client.get(other).status_code == 404
    # A download another site starts (a link or an <img> elsewhere) is refused: it would be
    # recorded as this triager's access to the citizen's file.
    assert client.get(url, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403


def test_body_html_is_rendered_only_after_sanitising(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice, channel="email")
    with app.app_context():
        submission = _get(app, receipt.code)
        # As if an old row held unsafe HTML: the page must clean it again.
        submission.body_html = (
            '<p>正文<b>加粗</b></p><script>alert(1)</script><img src=x onerror="alert(2)">'
        )
        db.session.commit()
    html = staff_login("viewer").get(f"/staff/submissions/{receipt.code}").get_data(as_text=True)
    assert "<b>加粗</b>" in html
    assert "<script>alert(1)" not in html and "onerror" not in html


def test_unknown_code_is_404(staff_login: Any) -> None:
    assert staff_login("viewer").get("/staff/submissions/AAAAA-AAAAA").status_code == 404


# --- explanations and dismissed suggestions (issue 15) -------------------------------------------

GIFT_CARDS = "单位逢年过节给职工发购物卡，工会的钱乱花。"
RAW_SCORE = re.compile(r"(?<![\d.])[01]\.\d{2}(?!\d)")


def _findings_section(html: str) -> str:
    start = html.index('<section class="findings"')
    return html[start : html.index("</section>", start)]


def _visible(html: str) -> str:
    """What a person reads: hidden form fields left out."""
    return re.sub(r'<input type="hidden"[^>]*>', "", html)


def _best_suggestion(app: Flask, code: str) -> tuple[Any, int]:
    from portal.triage.findings import router_for

    with app.app_context():
        submission = _get(app, code)
        best = router_for(submission.notice).suggest(submission.body, 1)[0]
        finding = next(f for f in submission.notice.findings if f.number == best.number)
        return best, finding.id


def test_suggestions_say_how_sure_in_words_never_a_raw_score(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice, body=GIFT_CARDS)
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    section = _findings_section(client.get(url).get_data(as_text=True))
    best, finding_id = _best_suggestion(app, receipt.code)
    row = section[section.index(f'data-finding="{best.number}"') :]
    assert re.search(r'class="strength strength-(strong|medium|weak)">[强中弱]<', row)
    row = row[: row.index("</tr>")]
    assert best.reasons  # why it was suggested: the words or concepts that matched
    assert all(reason in row for reason in best.reasons), (best.reasons, row)
    assert RAW_SCORE.search(_visible(section)) is None, section  # no 0.73, no 1.00

    form_post(client, url + "/findings", {"finding": finding_id, "op": "confirm"}, form_url=url)
    section = _findings_section(client.get(url).get_data(as_text=True))
    with app.app_context():
        link = db.session.scalar(select(SubmissionFinding))
        when = link.at
    from portal.workdays import as_utc

    local = as_utc(when).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert "已确认" in section and client.user.display_name in section and local in section
    assert client.user.email not in section  # a name, not an audit actor string
    assert RAW_SCORE.search(_visible(section)) is None


def test_a_dismissed_suggestion_is_no_longer_suggested_and_stays_in_the_history(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice, body=GIFT_CARDS)
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    best, finding_id = _best_suggestion(app, receipt.code)
    assert f'data-finding="{best.number}"' in client.get(url).get_data(as_text=True)

    response = form_post(
        client, url + "/suggestions/dismiss", {"finding": finding_id}, form_url=url
    )
    assert response.status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert f'data-finding="{best.number}"' not in _findings_section(html)
    assert "驳回系统建议" in html and f"问题{best.number}：{best.title}" in html
    with app.app_context():
        events = db.session.scalars(
            select(audit.Event).where(audit.Event.action == "triage.suggestion.dismiss")
        ).all()
        assert [e.details["finding"] for e in events] == [best.number]
        assert events[0].actor == client.user.actor

    # Twice is refused with a message; a linked finding is removed, not dismissed.
    again = form_post(client, url + "/suggestions/dismiss", {"finding": finding_id}, form_url=url)
    assert "已被驳回" in client.get(again.location).get_data(as_text=True)
    form_post(client, url + "/findings", {"finding": finding_id, "op": "confirm"}, form_url=url)
    other = _record(app, published_notice, body=GIFT_CARDS)
    other_url = f"/staff/submissions/{other.code}"
    assert f'data-finding="{best.number}"' in client.get(other_url).get_data(as_text=True)
    form_post(client, other_url + "/findings", {"finding": finding_id}, form_url=other_url)
    refused = form_post(
        client, other_url + "/suggestions/dismiss", {"finding": finding_id}, form_url=other_url
    )
    assert "请点“移除”" in client.get(refused.location).get_data(as_text=True)


DOCTOR = "市人民医院的医生做手术前要收红包，不给就拖着不安排。"


def test_a_complaint_about_another_body_suggests_a_referral_accepted_after_confirmation(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice, body=DOCTOR)
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    section = _findings_section(client.get(url).get_data(as_text=True))
    assert "建议转办：卫生健康部门" in section
    assert "依据：医院" in section  # why: the words that named the body
    assert 'data-finding="' not in section  # no finding suggested for it

    confirm = client.get(url + "/refer/suggested")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "确认转办至卫生健康部门" in page
    assert confirm.mimetype == "text/html"
    with app.app_context():
        assert _get(app, receipt.code).status == "received"  # the page changes nothing

    response = form_post(
        client,
        url + "/refer",
        {"body_name": "卫生健康部门", "reason": "反映的是卫生健康部门的事项"},
        form_url=url + "/refer/suggested",
    )
    assert response.status_code == 303
    with app.app_context():
        assert _get(app, receipt.code).status == "referred"
        assert db.session.scalar(select(Referral)).body_name == "卫生健康部门"
    html = client.get(url).get_data(as_text=True)
    assert "转办至 卫生健康部门" in html
    assert "建议转办" not in _findings_section(html)  # done: no longer suggested


def test_no_referral_is_suggested_for_the_offices_own_business(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    receipt = _record(app, published_notice, body=GIFT_CARDS)
    url = f"/staff/submissions/{receipt.code}"
    client = staff_login("triager")
    assert "建议转办" not in client.get(url).get_data(as_text=True)
    assert client.get(url + "/refer/suggested").status_code == 409
