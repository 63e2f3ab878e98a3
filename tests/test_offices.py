"""The admin's pages for offices, rounds and the accounts of many offices; the staff home page
and navigation per role."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.offices.models import Office, Round
from portal.offices.service import create_office, default_office
from portal.staff.models import User
from tests.conftest import form_post

PASSWORD = "a long and rare passphrase 88"
IMAP_SECRET = "imap-secret-Kx93"


@pytest.fixture
def admin(staff_login: Any) -> Any:
    return staff_login("admin")


@pytest.fixture
def two_offices(app: Flask) -> dict[str, int]:
    with app.app_context():
        main = default_office()
        b = create_office("yi", name="乙区某局", short_name="乙局")
        _db.session.commit()
        return {"main": main.id, "yi": b.id}


def office(app: Flask, slug: str) -> Office:
    with app.app_context():
        found = _db.session.scalar(select(Office).where(Office.slug == slug))
        assert found is not None
        password = found.imap_password  # decrypted while the session is open
        _db.session.expunge(found)
        found.plain_password = password  # type: ignore[attr-defined]
        return found


def events(app: Flask, action: str) -> list[dict[str, Any]]:
    with app.app_context():
        rows = _db.session.scalars(select(Event).where(Event.action == action).order_by(Event.seq))
        return [dict(e.details) for e in rows]


def text(response: Any) -> str:
    return response.get_data(as_text=True)


# --- offices --------------------------------------------------------------------------------------


def test_admin_creates_an_office_and_lands_on_its_settings(app: Flask, admin: Any) -> None:
    data = {"slug": "nanhai-edu", "name": "佛山市南海区教育局", "short_name": "南海教育"}
    response = form_post(admin, "/staff/offices", data)
    assert response.status_code == 302
    assert response.location == "/staff/offices/nanhai-edu"
    listing = text(admin.get("/staff/offices")).split("<tbody>")[1]
    assert "佛山市南海区教育局" in listing and "巡察整改办公室" in listing
    assert listing.index("巡察整改办公室") < listing.index("佛山市南海区教育局")  # default first
    assert events(app, "office.create")[-1]["slug"] == "nanhai-edu"


@pytest.mark.parametrize(
    ("slug", "message"),
    [("Nanhai Edu", "只能用小写字母、数字和连字符"), ("main", "已被其他单位使用")],
)
def test_a_bad_or_taken_slug_is_refused_in_chinese_keeping_what_was_typed(
    app: Flask, admin: Any, slug: str, message: str
) -> None:
    data = {"slug": slug, "name": "佛山市南海区教育局", "short_name": "南海教育"}
    response = form_post(admin, "/staff/offices", data)
    assert response.status_code == 400
    html = text(response)
    assert message in html
    assert 'value="佛山市南海区教育局"' in html and 'value="南海教育"' in html
    with app.app_context():
        assert _db.session.scalar(select(Office).where(Office.name == "佛山市南海区教育局")) is None


SETTINGS = {
    "name": "乙区某局",
    "short_name": "乙局",
    "contact_phone": "020-8888 1234",
    "contact_email": "xczg@yi.test",
    "contact_address": "乙区中山路1号",
    "contact_postcode": "510000",
    "letterhead": "中共乙区某局党组巡察整改办公室",
    "return_address": "乙区中山路1号后楼",
    "return_postcode": "510001",
    "mail_addresses": " XCZG@yi.test \n\n jubao@yi.test\n",
    "imap_host": "imap.yi.test",
    "imap_port": "993",
    "imap_user": "xczg",
    "imap_password": IMAP_SECRET,
    "imap_folder": "INBOX",
    "imap_ssl": "y",
    "imap_move_to": "Done",
    "ack_within_workdays": "2",
    "reply_within_workdays": "10",
    "active": "y",
}


def test_office_settings_are_saved_and_audited_without_the_password(
    app: Flask, admin: Any, two_offices: dict[str, int]
) -> None:
    response = form_post(admin, "/staff/offices/yi", SETTINGS)
    assert response.status_code == 302, text(response)[:2000]
    saved = office(app, "yi")
    assert saved.contact_phone == "020-8888 1234" and saved.letterhead.startswith("中共乙区")
    assert saved.addresses == ["xczg@yi.test", "jubao@yi.test"]
    assert (saved.imap_host, saved.imap_port, saved.imap_ssl, saved.imap_starttls) == (
        "imap.yi.test",
        993,
        True,
        False,
    )
    assert saved.has_mailbox and saved.plain_password == IMAP_SECRET
    assert (saved.ack_within_workdays, saved.reply_within_workdays) == (2, 10)
    logged = events(app, "office.update")
    assert len(logged) == 1
    assert {"contact_phone", "imap_host", "imap_password"} <= set(logged[0]["changes"])
    assert IMAP_SECRET not in json.dumps(logged, ensure_ascii=False)
    # The page never shows the password back; blank keeps it, a new one replaces it.
    page = text(admin.get("/staff/offices/yi"))
    assert IMAP_SECRET not in page and "已保存密码" in page
    kept = form_post(admin, "/staff/offices/yi", {**SETTINGS, "imap_password": ""})
    assert kept.status_code == 302
    assert office(app, "yi").plain_password == IMAP_SECRET
    assert len(events(app, "office.update")) == 1  # nothing changed, nothing logged
    form_post(admin, "/staff/offices/yi", {**SETTINGS, "imap_password": "another-one-77"})
    assert office(app, "yi").plain_password == "another-one-77"
    assert events(app, "office.update")[-1]["changes"] == {"imap_password": "（已更改）"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("imap_port", "70000", "端口是1到65535之间的数字"),
        ("mail_addresses", "xczg@yi.test\nnot an address", "not an address"),
        ("imap_starttls", "y", "只能选一种"),
        ("contact_postcode", "5100", "邮编是6位数字"),
        ("reply_within_workdays", "0", "1到60之间"),
        ("name", "", "请填写单位名称"),
    ],
)
def test_bad_settings_are_refused_in_chinese_and_the_typed_values_stay(
    app: Flask, admin: Any, two_offices: dict[str, int], field: str, value: str, message: str
) -> None:
    response = form_post(admin, "/staff/offices/yi", {**SETTINGS, field: value})
    assert response.status_code == 400
    html = text(response)
    assert message in html
    assert 'value="中共乙区某局党组巡察整改办公室"' in html  # another typed field kept
    assert IMAP_SECRET not in html  # even a typed password is not echoed
    assert office(app, "yi").letterhead is None


def test_an_inactive_office_leaves_the_public_site_but_the_default_cannot_be_stopped(
    app: Flask, admin: Any, client: Any, two_offices: dict[str, int]
) -> None:
    assert client.get("/offices/yi").status_code == 200
    stopped = {**SETTINGS, "imap_password": ""}
    del stopped["active"]
    assert form_post(admin, "/staff/offices/yi", stopped).status_code == 302
    assert office(app, "yi").active is False
    assert client.get("/offices/yi").status_code == 404
    main = {"name": "巡察整改办公室", "imap_ssl": "y"}  # "active" unticked
    refused = form_post(admin, "/staff/offices/main", main)
    assert refused.status_code == 400 and "默认单位不能停用" in text(refused)
    assert office(app, "main").active is True


def test_an_unknown_office_page_is_a_404(admin: Any) -> None:
    assert admin.get("/staff/offices/nowhere").status_code == 404


# --- rounds ---------------------------------------------------------------------------------------


def test_admin_creates_rounds_newest_first(app: Flask, admin: Any) -> None:
    first = {"slug": "r4", "name": "第四轮巡察", "starts_on": "2023-09-01"}
    second = {
        "slug": "r5",
        "name": "第五轮巡察",
        "inspection_group": "市委第三巡察组",
        "starts_on": "2024-03-01",
        "ends_on": "2024-05-31",
    }
    assert form_post(admin, "/staff/rounds", first).status_code == 302
    assert form_post(admin, "/staff/rounds", second).status_code == 302
    html = text(admin.get("/staff/rounds"))
    assert html.index("第五轮巡察") < html.index("第四轮巡察")
    assert "2024年3月1日 — 2024年5月31日" in html and "市委第三巡察组" in html
    assert [e["slug"] for e in events(app, "round.create")] == ["r4", "r5"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_on": "2024-02-01"}, "结束日期不能早于开始日期"),
        ({"starts_on": "2024-02-30"}, "不是有效的日期值"),
        ({"slug": "R 5"}, "只能用小写字母、数字和连字符"),
        ({"name": ""}, "请填写轮次名称"),
    ],
)
def test_round_errors_are_in_chinese_and_keep_what_was_typed(
    app: Flask, admin: Any, change: dict[str, str], message: str
) -> None:
    data = {
        "slug": "r5",
        "name": "第五轮巡察",
        "inspection_group": "市委第三巡察组",
        "starts_on": "2024-03-01",
        "ends_on": "2024-05-31",
        **change,
    }
    response = form_post(admin, "/staff/rounds", data)
    assert response.status_code == 400
    html = text(response)
    assert message in html
    assert 'value="市委第三巡察组"' in html
    with app.app_context():
        assert _db.session.scalar(select(Round)) is None


def test_a_taken_round_slug_is_refused(app: Flask, admin: Any) -> None:
    data = {"slug": "r5", "name": "第五轮巡察"}
    assert form_post(admin, "/staff/rounds", data).status_code == 302
    again = form_post(admin, "/staff/rounds", {**data, "name": "另一轮"})
    assert again.status_code == 400 and "已被其他巡察轮次使用" in text(again)
    assert 'value="另一轮"' in text(again)


# --- accounts of many offices --------------------------------------------------------------------


def account(app: Flask, email: str) -> tuple[str, set[tuple[str, str]]] | None:
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == email))
        if user is None:
            return None
        return user.role, {(m.role, m.office.slug) for m in user.memberships}


def new_user(admin: Any, email: str, role: str, offices: list[int]) -> Any:
    data = {"email": email, "display_name": "李明", "role": role, "password": PASSWORD}
    return form_post(admin, "/staff/users", {**data, "offices": offices})


def test_admin_creates_an_account_in_several_offices(
    app: Flask, admin: Any, two_offices: dict[str, int]
) -> None:
    response = new_user(admin, "li@yi.test", "triager", [two_offices["main"], two_offices["yi"]])
    assert response.status_code == 302
    assert account(app, "li@yi.test") == ("staff", {("triager", "main"), ("triager", "yi")})
    row = text(admin.get("/staff/users")).split("<td>li@yi.test</td>")[1].split("</tr>")[0]
    roles = re.search(r'<td class="user-roles">([^<]*)', row).group(1).strip()
    assert set(roles.split("；")) == {"巡察整改办公室·办理人员", "乙局·办理人员"}


@pytest.mark.parametrize(
    ("role", "pick", "message"),
    [
        ("triager", [], "请为编辑、办理人员或只读角色选择至少一个单位"),
        ("admin", ["yi"], "管理员和巡察办督查不属于某个单位"),
        ("supervisor", ["main"], "管理员和巡察办督查不属于某个单位"),
        ("viewer", [9999], "请选择列表中的单位"),
    ],
)
def test_office_choices_that_do_not_fit_the_role_are_refused(
    app: Flask,
    admin: Any,
    two_offices: dict[str, int],
    role: str,
    pick: list[Any],
    message: str,
) -> None:
    ids = [two_offices.get(p, p) for p in pick]
    response = new_user(admin, "li@yi.test", role, ids)
    assert response.status_code == 400
    html = text(response)
    assert message in html and 'value="li@yi.test"' in html and 'value="李明"' in html
    assert account(app, "li@yi.test") is None


def test_with_one_office_an_office_role_needs_no_choice(app: Flask, admin: Any) -> None:
    assert new_user(admin, "solo@main.test", "editor", []).status_code == 302
    assert account(app, "solo@main.test") == ("staff", {("editor", "main")})


def test_a_supervisor_account_holds_no_office(app: Flask, admin: Any) -> None:
    assert new_user(admin, "xcb@city.test", "supervisor", []).status_code == 302
    assert account(app, "xcb@city.test") == ("supervisor", set())
    row = text(admin.get("/staff/users")).split("<td>xcb@city.test</td>")[1].split("</tr>")[0]
    assert "巡察办督查" in row and "调整单位角色" not in row


def test_memberships_are_added_changed_and_removed_and_end_sessions(
    app: Flask, admin: Any, staff_login: Any, make_user: Any, two_offices: dict[str, int]
) -> None:
    member = staff_login("triager")
    user_id = member.user.id
    url = f"/staff/users/{user_id}/memberships"
    added = form_post(
        admin, url, {"office": two_offices["yi"], "role": "viewer"}, form_url="/staff/users"
    )
    assert added.status_code == 302 and added.location.endswith(f"#user-{user_id}")
    assert account(app, member.user.email)[1] == {("triager", "main"), ("viewer", "yi")}
    # The new scope applies at once: the old session is over.
    assert member.get("/staff/account").status_code == 302
    form_post(admin, url, {"office": two_offices["yi"], "role": "triager"}, form_url="/staff/users")
    assert account(app, member.user.email)[1] == {("triager", "main"), ("triager", "yi")}
    form_post(admin, url, {"office": two_offices["main"], "role": ""}, form_url="/staff/users")
    assert account(app, member.user.email)[1] == {("triager", "yi")}
    logged = events(app, "user.membership")
    assert [(e["office"], e["role"]) for e in logged] == [
        ("yi", "viewer"),
        ("yi", "triager"),
        ("main", None),
    ]
    row = (
        text(admin.get("/staff/users")).split(f"<td>{member.user.email}</td>")[1].split("</tr>")[0]
    )
    assert "乙局·办理人员" in row and "巡察整改办公室" not in row.split("<details")[0]


def test_a_global_role_gets_no_membership(
    app: Flask, admin: Any, make_user: Any, two_offices: dict[str, int]
) -> None:
    supervisor = make_user("supervisor")
    url = f"/staff/users/{supervisor.id}/memberships"
    response = form_post(
        admin, url, {"office": two_offices["yi"], "role": "editor"}, form_url="/staff/users"
    )
    assert response.status_code == 302
    assert "不属于某个单位" in text(admin.get("/staff/users"))
    assert account(app, supervisor.email) == ("supervisor", set())
    bad = form_post(admin, url, {"office": "9999", "role": "editor"}, form_url="/staff/users")
    assert bad.status_code == 302 and events(app, "user.membership") == []


# --- home page and navigation --------------------------------------------------------------------


def nav_labels(client: Any) -> list[str]:
    html = text(client.get("/staff/"))
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", html, re.S).group(1)
    return re.findall(r'<a href="/[^"]*"[^>]*>([^<]+)</a>', nav)


def test_home_names_the_users_offices_and_roles(
    app: Flask, staff_login: Any, make_user: Any, two_offices: dict[str, int]
) -> None:
    user = make_user("triager", offices=["main", "yi"])
    html = text(staff_login("triager", user=user).get("/staff/"))
    mine = html.split('id="my-offices-title"')[1].split("</section>")[0]
    assert "巡察整改办公室：办理人员" in mine and "乙区某局：办理人员" in mine
    supervisor = text(staff_login("supervisor").get("/staff/"))
    assert "只读查看全部单位" in supervisor


def test_navigation_per_role(app: Flask, staff_login: Any, monkeypatch: Any) -> None:
    from portal.staff import views

    admin = nav_labels(staff_login("admin"))
    assert "单位管理" in admin and "巡察轮次" in admin
    supervisor = nav_labels(staff_login("supervisor"))
    assert "单位管理" not in supervisor and "公示管理" not in supervisor
    assert "队列" in supervisor and "统计" in supervisor
    for label, endpoint in (("督查总览", "oversight.overview"), ("待分派", "triage.routing_desk")):
        assert (label in supervisor) == (endpoint in app.view_functions)
    triager = nav_labels(staff_login("triager"))
    assert "单位管理" not in triager and "督查总览" not in triager and "队列" in triager
    # An entry whose page is not registered (another feature not installed) is left out.
    monkeypatch.setattr(views, "NAV", (*views.NAV, ("不存在", "nowhere.page", ())))
    assert "不存在" not in nav_labels(staff_login("admin"))


def test_office_lists_read_in_pinyin_order(app: Flask, admin: Any) -> None:
    """北 (bei), 城 (cheng), 安 (an) in code-point order; people look them up as 安, 北, 城."""
    with app.app_context():
        for slug, name in (("bei", "北区某局"), ("cheng", "城建局"), ("an", "安监局")):
            create_office(slug, name=name)
        _db.session.commit()
    page = text(admin.get("/staff/offices")).split("<tbody>")[1]
    positions = [page.index(name) for name in ("安监局", "北区某局", "城建局")]
    assert positions == sorted(positions)
