"""Every staff view: a role outside its allowed set gets 403; allowed roles get in.

ACCESS is the one table of (method, url, allowed roles). A view missing from it fails
test_every_staff_view_is_in_the_table, so no view escapes the check.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from portal.staff.models import ROLES
from tests.conftest import form_post

SLUG = "dongguan-2024"
ALL = ROLES
EDITORS = ("admin", "editor")
ADMINS = ("admin",)

ACCESS: list[tuple[str, str, tuple[str, ...]]] = [
    ("GET", "/staff/", ALL),
    ("GET", "/staff/account", ALL),
    ("GET", "/staff/account/2fa", ALL),
    ("POST", "/staff/account/password", ALL),
    ("POST", "/staff/account/recovery-codes", ALL),
    ("GET", "/staff/reauth", ALL),
    ("GET", "/staff/users", ADMINS),
    ("POST", "/staff/users/1/enrol-link", ADMINS),
    ("POST", "/staff/users", ADMINS),
    ("POST", "/staff/users/1/memberships", ADMINS),
    ("POST", "/staff/users/1/role", ADMINS),  # an empty form: refused, the session stays
    ("GET", "/staff/offices", ADMINS),
    ("POST", "/staff/offices", ADMINS),
    ("GET", "/staff/offices/main", ADMINS),
    ("POST", "/staff/offices/main", ADMINS),
    ("GET", "/staff/rounds", ADMINS),
    ("POST", "/staff/rounds", ADMINS),
    ("GET", "/staff/audit/", ADMINS),
    ("GET", "/staff/audit/verify", ADMINS),
    ("GET", "/staff/notices/", EDITORS),
    ("GET", "/staff/notices/new", EDITORS),
    ("POST", "/staff/notices/new", EDITORS),
    ("GET", f"/staff/notices/{SLUG}", EDITORS),
    ("GET", f"/staff/notices/{SLUG}/revise", EDITORS),
    ("POST", f"/staff/notices/{SLUG}/revise", EDITORS),
    ("POST", f"/staff/notices/{SLUG}/publish", EDITORS),
    ("POST", f"/staff/notices/{SLUG}/withdraw", EDITORS),
    ("GET", f"/staff/notices/{SLUG}/revisions/1", EDITORS),
    ("POST", f"/staff/notices/{SLUG}/findings/1/status", EDITORS),
    ("POST", f"/staff/notices/{SLUG}/window", EDITORS),
    ("GET", f"/staff/notices/{SLUG}/poster", EDITORS),
    ("GET", f"/staff/notices/{SLUG}/poster.pdf", EDITORS),
    ("GET", "/staff/canned-replies", ("admin", "editor", "triager")),
    ("POST", "/staff/canned-replies", ("admin", "editor", "triager")),
    ("GET", "/staff/canned-replies/1", ("admin", "editor", "triager")),
    ("POST", "/staff/canned-replies/1", ("admin", "editor", "triager")),
    ("POST", "/staff/canned-replies/1/retire", ("admin", "editor", "triager")),
    ("GET", "/staff/intake/referrals/XXXXX-XXXXX", ("admin", "triager")),
    ("GET", "/staff/intake/referrals/XXXXX-XXXXX/pdf", ("admin", "triager")),
    ("POST", "/staff/intake/referrals/XXXXX-XXXXX", ("admin", "triager")),
    ("POST", "/staff/intake/referrals/XXXXX-XXXXX/pdf", ("admin", "triager")),
    # Last: for the admin these act on its own account (user 1) and end its session.
    ("POST", "/staff/users/1/disable", ADMINS),
    ("POST", "/staff/users/1/reset-2fa", ADMINS),
]
# Reached before login: the login steps themselves.
PUBLIC = {"staff.login", "staff.verify", "staff.enrol_link", "staff.logout"}


def test_every_staff_view_is_in_the_table(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    covered = {adapter.match(url, method=method)[0] for method, url, _ in ACCESS}
    mine = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("staff", "notice_admin", "audit")
    }
    assert mine - PUBLIC - covered == set()


@pytest.mark.parametrize("role", ROLES)
def test_lower_roles_get_403_on_every_staff_view(
    staff_login: Any, published_notice: str, role: str
) -> None:
    """One login per role, then every row of the table (logins are the slow part)."""
    client = staff_login(role)
    for method, url, allowed in ACCESS:
        if method == "GET":
            response = client.get(url)
        else:  # a real CSRF token, so only the role decides
            response = form_post(client, url, {}, form_url="/staff/account")
        if role in allowed:
            assert response.status_code != 403, (role, method, url)
        else:
            assert response.status_code == 403, (role, method, url, response.status_code)


def test_roles_required_sends_anonymous_visitors_to_login(
    client: Any, published_notice: str
) -> None:
    for method, url, _ in ACCESS:
        response = client.open(url, method=method)
        assert response.status_code in (302, 400), url  # 400: POST without a CSRF token
        if response.status_code == 302:
            assert response.location.startswith("/staff/login?next=")


NAV_LINK = re.compile(r"<nav[^>]*>(.*?)</nav>", re.S)


@pytest.mark.parametrize("role", ROLES)
def test_every_navigation_entry_is_a_page_the_role_can_open(
    app: Flask, staff_login: Any, role: str
) -> None:
    """Each entry of the staff navigation names a registered page, and following each link the
    role sees (in the header and on the home page) opens that page."""
    from portal.staff.views import NAV

    wanted = [endpoint for _label, endpoint, roles in NAV if role == "admin" or role in roles]
    # Pages other features add appear once they are registered, never as dead links.
    listed = [endpoint for endpoint in wanted if endpoint in app.view_functions]
    assert listed, role
    client = staff_login(role)
    home = client.get("/staff/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    header = NAV_LINK.search(html)
    assert header, "no <nav> in the staff layout"
    links = [h for h in re.findall(r'<a href="([^"]+)"', header.group(1)) if h.startswith("/")]
    with app.test_request_context():
        from flask import url_for

        assert links == [url_for(endpoint) for endpoint in listed], role
    for href in links:
        assert f'<a href="{href}">' in html.split("</nav>", 1)[1], (role, href)  # home's list
        assert client.get(href).status_code == 200, (role, href)
