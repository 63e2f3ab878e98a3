"""The triager's day (issue 18): the home page workbench, the queue's markers, campaign filter
and bulk wording, and the detail page's in-place actions, picture previews and history."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.notices.models import Notice
from tests.conftest import form_post
from tests.fixtures.intake import gen_pdf

CAMPAIGN = "强烈要求查处化工厂偷排污水问题，河道发黑发臭已经三年，群众多次反映无人处理。"


def _record(app: Flask, **kw: Any) -> str:
    from portal.intake.service import Incoming, record_submission

    with app.app_context():
        kw.setdefault("channel", "web")
        kw.setdefault("body", "单位逢年过节给职工发放购物卡，希望彻查。")
        kw.setdefault("consent", True)
        notice = kw.pop("notice", None)
        return record_submission(Incoming(notice=notice, **kw)).code


def _set(app: Flask, code: str, **values: Any) -> None:
    with app.app_context():
        row = db.session.scalars(select(Submission).where(Submission.code == code)).one()
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        db.session.commit()


def _text(html: str) -> str:
    """What a person reads: tags and attributes dropped."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def day(app: Flask, make_user: Any) -> dict[str, Any]:
    """A triager's queue: one of each kind of waiting work, plus one closed and one merely new."""
    me = make_user("triager")
    past = date.today() - timedelta(days=10)
    codes = {
        kind: _record(app, body=f"{kind}：单位公车私用，周末停在饭店门口，请查处。")
        for kind in ("mine", "overdue", "follow_up", "reopened", "waiting", "closed", "new")
    }
    _set(app, codes["mine"], assignee_id=me.id, status="in_progress")
    _set(app, codes["overdue"], reply_due_on=past, status="in_progress")
    _set(app, codes["follow_up"], status="follow_up")
    _set(app, codes["reopened"], status="reopened")
    # Waiting for the submitter: its old date is paused, never "overdue".
    _set(app, codes["waiting"], status="waiting", reply_due_on=past)
    _set(app, codes["closed"], status="closed", reply_due_on=past, assignee_id=me.id)
    return {"me": me, "codes": codes}


def _tiles(html: str) -> dict[str, tuple[int, str]]:
    found = re.findall(
        r'<li class="tile tile-(\w+)[^"]*"><a href="([^"]+)">\s*<span class="tile-count">(\d+)',
        html,
    )
    return {key: (int(count), href.replace("&amp;", "&")) for key, href, count in found}


def _queue_codes(html: str) -> set[str]:
    return set(re.findall(r'<tr class="queue-row[^"]*" data-code="([^"]+)"', html))


def test_the_home_page_counts_each_kind_of_work_and_links_to_exactly_those(
    app: Flask, staff_login: Any, day: dict[str, Any]
) -> None:
    client = staff_login(user=day["me"])
    tiles = _tiles(client.get("/staff/").get_data(as_text=True))
    codes = day["codes"]
    expected = {
        "mine": {codes["mine"]},  # the closed one assigned to me is not waiting work
        "overdue": {codes["overdue"]},  # the paused one is not overdue
        "follow_up": {codes["follow_up"]},
        "reopened": {codes["reopened"]},
    }
    for key, wanted in expected.items():
        count, href = tiles[key]
        assert count == len(wanted), key
        assert _queue_codes(client.get(href).get_data(as_text=True)) == wanted, key
    assert "due_soon" in tiles


def test_due_soon_is_what_the_deadline_rule_calls_due_soon(
    app: Flask, staff_login: Any, make_user: Any
) -> None:
    soon = _record(app)
    later = _record(app)
    today = datetime.now(UTC).astimezone().date()
    _set(app, soon, reply_due_on=today + timedelta(days=1), status="triaged")
    _set(app, later, reply_due_on=today + timedelta(days=30), status="triaged")
    client = staff_login("triager")
    count, href = _tiles(client.get("/staff/").get_data(as_text=True))["due_soon"]
    assert (count, _queue_codes(client.get(href).get_data(as_text=True))) == (1, {soon})


def test_an_editor_sees_replies_waiting_for_approval(
    app: Flask, staff_login: Any, make_user: Any
) -> None:
    from portal.staff.models import User
    from portal.triage.replies import send_reply

    code = _record(app, contact=None)
    author = make_user("triager")
    with app.app_context():
        row = db.session.scalars(select(Submission).where(Submission.code == code)).one()
        send_reply(
            row,
            body="已核实。",
            actor_user=db.session.get_one(User, author.id),
            publish_request=True,
        )
        db.session.commit()
    html = staff_login("editor").get("/staff/").get_data(as_text=True)
    assert _tiles(html)["approval"] == (1, "/staff/replies/pending")
    assert "tile-mine" not in html  # an editor has no queue


def test_queue_rows_carry_markers_in_words(
    app: Flask, staff_login: Any, day: dict[str, Any]
) -> None:
    html = staff_login("viewer").get("/staff/queue").get_data(as_text=True)
    rows = {
        m.group(1): _text(m.group(2))
        for m in re.finditer(r'data-code="([^"]+)">(.*?)</tr>', html, re.S)
    }
    codes = day["codes"]
    assert "新追问" in rows[codes["follow_up"]]
    assert "不满意" in rows[codes["reopened"]]
    assert "暂停计时" in rows[codes["waiting"]] and "已逾期" not in rows[codes["waiting"]]
    assert "已逾期" in rows[codes["overdue"]]
    assert not re.search("新追问|不满意|暂停计时|已逾期", rows[codes["new"]])


def test_the_campaign_filter_lists_the_campaign_and_nothing_else(
    app: Flask, staff_login: Any
) -> None:
    campaign = [_record(app, body=CAMPAIGN + tail) for tail in ("", "请尽快", "盼复")]
    other = _record(app, body="食堂饭菜价格偏高，质量一般，希望改进。")
    client = staff_login("triager")
    detail = client.get(f"/staff/submissions/{campaign[0]}").get_data(as_text=True)
    assert f'href="/staff/queue?campaign={campaign[0]}"' in detail  # from the campaign's note
    html = client.get(f"/staff/queue?campaign={campaign[0]}").get_data(as_text=True)
    assert _queue_codes(html) == set(campaign)
    assert other not in html and "集中反映" in html
    # Unknown code: an empty list, not an error and not every opinion.
    assert _queue_codes(client.get("/staff/queue?campaign=NOPE").get_data(as_text=True)) == set()


def test_bulk_actions_say_what_they_apply_to(app: Flask, staff_login: Any) -> None:
    for _ in range(3):
        _record(app)
    html = staff_login("triager").get("/staff/queue").get_data(as_text=True)
    assert "对勾选的意见（本页共 3 件）" in _text(html)
    assert 'data-template="对选中的 {n} 件意见：' in html


def test_an_action_answers_the_page_body_when_the_script_asks(app: Flask, staff_login: Any) -> None:
    code = _record(app)
    client = staff_login("triager")
    url = f"/staff/submissions/{code}"
    # Without script: back to the page, at the section acted on.
    plain = form_post(client, f"{url}/notes", {"body": "先电话核实。"}, form_url=url)
    assert plain.status_code == 303 and plain.location.endswith(f"{url}#notes")
    client.get(url)  # the message of that action, read
    # With script: fetch follows the redirect with the same header and gets the body alone.
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = client.post(
        f"{url}/notes",
        data={"body": "已约谈。", "csrf_token": token},
        headers={"X-Partial": "detail"},
        follow_redirects=True,
    )
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert body.lstrip().startswith("{#") is False and "<html" not in body
    assert 'id="detail-body"' in body and "已约谈。" in body
    assert 'class="flashes live-flashes"' in body and "备注已保存" in body
    # The full page keeps its script, and no inline script.
    full = client.get(url).get_data(as_text=True)
    assert "js/triage-detail.js" in full and "<script>" not in full


def test_a_reply_lands_at_its_panel_and_a_status_change_answers_the_body(
    app: Flask, staff_login: Any
) -> None:
    code = _record(app, contact=None)
    client = staff_login("triager")
    url = f"/staff/submissions/{code}"
    plain = form_post(client, f"{url}/reply", {"body": "经核实，已整改。"}, form_url=url)
    assert plain.status_code == 303 and plain.location.endswith(f"{url}#reply")
    client.get(url)
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = client.post(
        f"{url}/status",
        data={"status": "closed", "reason": "已答复并办结", "csrf_token": token},
        headers={"X-Partial": "detail"},
        follow_redirects=True,
    )
    body = answer.get_data(as_text=True)
    assert "<html" not in body and 'id="detail-body"' in body
    assert "状态已改为“已办结”" in body and "经核实，已整改。" in body


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_pictures_are_previewed_inline_safely_and_audited(app: Flask, staff_login: Any) -> None:
    from portal.intake.service import IncomingFile

    code = _record(
        app,
        attachments=[
            IncomingFile("现场照片.png", _png(), "image/png"),
            IncomingFile("材料.pdf", gen_pdf(), "application/pdf"),
        ],
    )
    with app.app_context():
        row = db.session.scalars(select(Submission).where(Submission.code == code)).one()
        png, pdf = sorted(row.attachments, key=lambda a: a.content_type != "image/png")
        png_id, pdf_id, sid = png.id, pdf.id, row.id
    client = staff_login("triager")
    page = client.get(f"/staff/submissions/{code}").get_data(as_text=True)
    preview = f"/staff/submissions/{code}/attachments/{png_id}/preview"
    assert f'<img src="{preview}"' in page
    response = client.get(preview)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == "inline"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.data)).size == (40, 30)
    assert client.get(f"/staff/submissions/{code}/attachments/{pdf_id}/preview").status_code == 404
    assert client.get(preview, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert staff_login("viewer").get(preview).status_code == 403
    with app.app_context():
        events = db.session.scalars(
            select(audit.Event).where(
                audit.Event.action == "attachment.download",
                audit.Event.object_id == str(sid),
            )
        ).all()
        assert [e.details.get("preview") for e in events] == [True]


def test_the_history_says_which_finding_was_confirmed_and_by_whom(
    app: Flask, staff_login: Any, published_notice: str, make_user: Any
) -> None:
    with app.app_context():
        notice = db.session.scalars(select(Notice).where(Notice.slug == published_notice)).one()
        finding = notice.findings[0]
        finding_id, number, title = finding.id, finding.number, finding.title
    code = _record(app, notice=notice)
    user = make_user("triager")
    client = staff_login(user=user)
    url = f"/staff/submissions/{code}"
    form_post(client, f"{url}/findings", {"finding": finding_id, "op": "confirm"}, form_url=url)
    html = client.get(url).get_data(as_text=True)
    history = _text(html[html.index('id="history"') :])
    assert "确认关联问题" in history
    assert f"问题{number}：{title}" in history
    assert user.display_name in history
    assert "user:" not in history and "triage.finding" not in history
    assert "收到（网上）" in history
