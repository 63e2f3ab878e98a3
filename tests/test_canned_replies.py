"""Canned replies in the browser: editors and triagers of an office write, edit, retire and
restore texts per finding (or general); the reply panel offers the current ones; every change
is audited; another office's texts and findings stay out of reach."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.notices.models import Notice
from portal.triage.models import CannedReply
from tests.conftest import form_post

LIST = "/staff/canned-replies"


@dataclass(frozen=True)
class World:
    office_a: int
    office_b: int
    finding_13: int  # of office A's notice
    finding_b: int  # of office B's notice
    code_13: str  # an opinion on A's finding 13
    code_b: str  # an opinion to office B


@pytest.fixture
def world(app: Flask, published_notice: str, seed_text: str) -> World:
    from portal.intake.service import Incoming, find_by_code, record_submission
    from portal.notices.service import import_notice
    from portal.offices.service import create_office

    with app.app_context():
        notice_a = _db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        office_b = create_office("nanhai", name="南海区教育局", short_name="南海教育")
        notice_b = import_notice(seed_text, slug="nanhai-2024", publish=True, office=office_b)
        _db.session.commit()
        finding_13 = next(f for f in notice_a.findings if f.number == 13)
        finding_b = notice_b.notice.findings[0]
        a = record_submission(
            Incoming(
                channel="web", body="采购项目审查情况报告没有公开。", notice=notice_a, findings=[13]
            )
        )
        b = record_submission(
            Incoming(
                channel="web",
                body="乙局的意见：校服采购价格虚高。",
                notice=notice_b.notice,
                findings=[],
            )
        )
        sub_b = find_by_code(b.code)
        assert sub_b is not None
        return World(
            office_a=notice_a.office_id,
            office_b=office_b.id,
            finding_13=finding_13.id,
            finding_b=finding_b.id,
            code_13=a.code,
            code_b=b.code,
        )


def offered(app: Flask, code: str) -> list[str]:
    """Titles the reply panel offers for the submission."""
    from portal.intake.service import find_by_code
    from portal.triage.replies import canned_texts

    with app.app_context():
        submission = find_by_code(code)
        assert submission is not None
        return [text.title for text in canned_texts(submission)]


def events(app: Flask, prefix: str = "canned.") -> list[Event]:
    with app.app_context():
        rows = _db.session.scalars(select(Event).where(Event.action.startswith(prefix)))
        return list(rows)


def create(client: FlaskClient, office: int, finding: int | str, title: str, body: str) -> Any:
    data = {"office": str(office), "finding": str(finding), "title": title, "body": body}
    return form_post(client, LIST, data, form_url=f"{LIST}?office={office}")


def only(app: Flask, title: str) -> CannedReply:
    with app.app_context():
        row = _db.session.scalar(select(CannedReply).where(CannedReply.title == title))
        assert row is not None
        _db.session.expunge(row)
        return row


def test_a_triager_writes_texts_for_a_finding_and_general_and_the_panel_offers_them(
    app: Flask, staff_login: Any, world: World
) -> None:
    triager = staff_login("triager")
    before = offered(app, world.code_13)
    assert before and before[0].startswith("第13项："), "drafted from the measures"
    response = create(triager, world.office_a, world.finding_13, "采购公开答复", "已在官网公开。")
    assert response.status_code == 302
    assert create(triager, world.office_a, "", "通用致谢", "感谢您的监督。").status_code == 302

    page = triager.get(response.location).get_data(as_text=True)
    section = page.split(f'id="finding-{world.finding_13}"')[1].split("</section>")[0]
    assert "采购公开答复" in section and "已在官网公开。" in section
    general = page.split('id="general-title"')[1].split("</section>")[0]
    assert "通用致谢" in general
    assert offered(app, world.code_13) == ["采购公开答复", "通用致谢", *before]
    made = events(app)
    assert [e.action for e in made] == ["canned.create", "canned.create"]
    assert made[0].details["finding"] == 13 and made[1].details["finding"] is None
    assert made[0].actor == triager.user.actor

    detail = triager.get(f"/staff/submissions/{world.code_13}").get_data(as_text=True)
    assert f'href="{LIST}?office={world.office_a}"' in detail, "the reply panel links the list"
    # The compose page starts from the chosen text.
    compose = triager.get(f"/staff/submissions/{world.code_13}/reply?canned=0")
    assert "已在官网公开。" in compose.get_data(as_text=True)


def test_edit_retire_and_restore(app: Flask, staff_login: Any, world: World) -> None:
    editor = staff_login("editor")
    create(editor, world.office_a, world.finding_13, "旧标题", "旧内容。")
    row = only(app, "旧标题")
    url = f"{LIST}/{row.id}"
    form = editor.get(url).get_data(as_text=True)
    assert "旧内容。" in form and f'<option value="{world.finding_13}" selected>' in form
    data = {"office": str(world.office_a), "finding": "", "title": "新标题", "body": "新内容。"}
    assert form_post(editor, url, data, form_url=url).status_code == 302
    assert offered(app, world.code_13)[0] == "新标题"
    edited = events(app, "canned.edit")[-1]
    assert set(edited.details["changed"]) == {"finding", "title", "body"}

    retire = form_post(editor, f"{url}/retire", {"retire": "y"}, form_url=LIST)
    assert retire.status_code == 302
    assert "新标题" not in offered(app, world.code_13)
    page = editor.get(retire.location).get_data(as_text=True)
    item = page.split(f'id="canned-{row.id}"')[1].split("</li>")[0]
    assert "已停用" in item and "恢复" in item
    assert form_post(editor, f"{url}/retire", {}, form_url=LIST).status_code == 302
    assert offered(app, world.code_13)[0] == "新标题"
    assert [e.action for e in events(app)][-2:] == ["canned.retire", "canned.restore"]


def test_a_missing_title_is_refused_in_chinese_and_the_text_is_kept(
    app: Flask, staff_login: Any, world: World
) -> None:
    triager = staff_login("triager")
    response = create(triager, world.office_a, world.finding_13, "  ", "写了很长的一段答复。")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请填写标题。" in html and "写了很长的一段答复。" in html
    with app.app_context():
        assert _db.session.scalars(select(CannedReply)).all() == []


def test_another_offices_texts_and_findings_are_out_of_reach(
    app: Flask, staff_login: Any, world: World
) -> None:
    a = staff_login("triager")
    # A's triager cannot attach a text to B's finding (a forged id) ...
    forged = create(a, world.office_a, world.finding_b, "伪造", "内容。")
    assert forged.status_code == 422 and "请选择本单位公示中的问题" in forged.get_data(True)
    # ... nor open B's list or B's texts.
    assert a.get(f"{LIST}?office={world.office_b}").status_code == 404
    with app.app_context():
        row = CannedReply(office_id=world.office_b, finding_id=None, title="乙局通用", body="乙")
        _db.session.add(row)
        _db.session.commit()
        b_id = row.id
    assert a.get(f"{LIST}/{b_id}").status_code == 404
    refused = form_post(a, f"{LIST}/{b_id}/retire", {"retire": "y"}, form_url=LIST)
    assert refused.status_code == 404
    assert "乙局通用" not in a.get(LIST).get_data(as_text=True)
    # B's general text is offered for B's opinions only.
    assert "乙局通用" not in offered(app, world.code_13)
    assert "乙局通用" in offered(app, world.code_b)


@pytest.mark.parametrize("role", ["viewer", "supervisor"])
def test_readers_may_not_manage_texts(staff_login: Any, world: World, role: str) -> None:
    client = staff_login(role)
    assert client.get(LIST).status_code == 403


def test_the_page_names_findings_not_codes(staff_login: Any, world: World) -> None:
    html = staff_login("triager").get(LIST).get_data(as_text=True)
    assert re.search(r"第13项：[^<]+", html)
    assert "通用（适用于本单位所有意见）" in html
