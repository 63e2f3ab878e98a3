"""Administration in the browser: an admin changes an account's role (audited, the account is
logged out everywhere); the notice list shows each finding's current status."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.notices.models import Notice
from portal.offices.service import default_office
from portal.staff.models import User
from tests.conftest import form_post


def _user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = _db.session.get(User, user_id)
        assert user is not None
        roles = (user.role, sorted((m.office_id, m.role) for m in user.memberships))
        _db.session.expunge(user)
        user.seen = roles  # type: ignore[attr-defined]
        return user


def _role_events(app: Flask) -> list[Event]:
    with app.app_context():
        return list(_db.session.scalars(select(Event).where(Event.action == "user.role")))


def _change(admin: Any, user_id: int, **data: Any) -> Any:
    return form_post(admin, f"/staff/users/{user_id}/role", data, form_url="/staff/users")


def test_admin_makes_a_triager_the_supervisor_and_the_triager_is_logged_out(
    app: Flask, staff_login: Any
) -> None:
    triager = staff_login("triager")
    assert triager.get("/staff/queue").status_code == 200
    admin = staff_login("admin")
    user_id = triager.user.id

    response = _change(admin, user_id, role="supervisor", office="")
    assert response.status_code == 302
    page = admin.get(response.location).get_data(as_text=True)
    assert "该账户已退出登录" in page and "巡察办" in page
    assert _user(app, user_id).seen == ("supervisor", [])
    after = triager.get("/staff/queue")
    assert after.status_code == 302 and "/staff/login" in after.location, "sessions ended"
    [event] = _role_events(app)
    assert event.details["role"] == "supervisor" and event.object_id == str(user_id)
    assert "办理" in event.details["before"]  # what the account was, in words
    assert event.actor == admin.user.actor


def test_a_supervisor_becomes_an_editor_of_one_office(
    app: Flask, staff_login: Any, make_user: Any
) -> None:
    admin = staff_login("admin")
    supervisor = make_user("supervisor")
    with app.app_context():
        office_id = default_office().id
        _db.session.commit()
    assert _change(admin, supervisor.id, role="editor", office=str(office_id)).status_code == 302
    assert _user(app, supervisor.id).seen == ("staff", [(office_id, "editor")])


def test_an_office_role_needs_an_office_and_nothing_changes_without_one(
    app: Flask, staff_login: Any, make_user: Any
) -> None:
    admin = staff_login("admin")
    supervisor = make_user("supervisor")
    response = _change(admin, supervisor.id, role="triager", office="")
    page = admin.get(response.location).get_data(as_text=True)
    assert "编辑、办理人员、只读角色须选择单位。" in page
    assert _user(app, supervisor.id).seen == ("supervisor", [])
    assert _role_events(app) == []


def test_the_last_admin_cannot_step_down(app: Flask, staff_login: Any) -> None:
    admin = staff_login("admin")
    response = _change(admin, admin.user.id, role="supervisor", office="")
    page = admin.get(response.location).get_data(as_text=True)
    assert "最后一个启用的管理员" in page
    assert _user(app, admin.user.id).seen == ("admin", [])


def test_the_users_page_offers_the_role_change_preset_to_the_present_role(
    staff_login: Any, make_user: Any
) -> None:
    admin = staff_login("admin")
    editor = make_user("editor")
    html = admin.get("/staff/users").get_data(as_text=True)
    row = html.split(f'id="user-{editor.id}"')[1].split("</tr>")[0]
    form = row.split('class="role-change"')[1]
    assert f'action="/staff/users/{editor.id}/role"' in form
    selected = re.search(rf'id="r{editor.id}-role"[^>]*>(.*?)</select>', form, re.S)
    assert selected and re.search(r'<option selected value="editor">', selected.group(1))


def test_the_notice_list_shows_each_findings_current_status(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        findings = sorted((f for f in notice.findings if f.active), key=lambda f: f.number)
        findings[0].status = "已完成整改"
        findings[1].status = None
        _db.session.commit()
        first, second = findings[0], findings[1]
        expected = {f.number: f.status or "未标注" for f in findings}
    html = staff_login("editor").get("/staff/notices/").get_data(as_text=True)
    shown = dict(
        re.findall(
            r'<li class="finding-status" data-finding="(\d+)">'
            r"\d+\. [^<]*：<strong>([^<]+)</strong>",
            html,
        )
    )
    assert {int(n): s for n, s in shown.items()} == expected
    assert f"{first.number}. {first.title}：<strong>已完成整改</strong>" in html
    assert f"{second.number}. {second.title}：<strong>未标注</strong>" in html
