"""Every public and staff response carries the security headers; session cookie flags."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.http import parse_dict_header

from tests.conftest import STAFF_PASSWORD, form_post


def check_headers(response: Any, url: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {
        part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()
    }
    script_src = directives.get("script-src") or directives.get("default-src", "")
    assert script_src, url
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, url
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", url
    assert headers.get("X-Content-Type-Options") == "nosniff", url
    assert headers.get("Referrer-Policy") == "same-origin", url
    permissions = headers.get("Permissions-Policy", "")
    assert "camera=()" in permissions and "geolocation=()" in permissions, url


def test_every_public_response_carries_the_headers(client: Any, published_notice: str) -> None:
    urls = [
        "/",
        "/offices/main",
        f"/notices/{published_notice}",
        f"/notices/{published_notice}.json",
        "/notices.atom",
        "/healthz",
        "/notices/no-such-notice",
        "/static/css/portal.css",
        "/staff/login",
        "/staff/",  # redirect to login
    ]
    for url in urls:
        check_headers(client.get(url), url)
    check_headers(client.post("/staff/login", data={}), "POST /staff/login without token")


def test_every_staff_response_carries_the_headers(staff_login: Any, published_notice: str) -> None:
    admin = staff_login("admin")
    for url in (
        "/staff/",
        "/staff/account",
        "/staff/users",
        "/staff/offices",
        "/staff/offices/main",
        "/staff/rounds",
        "/staff/audit/",
        "/staff/notices/",
        "/staff/notices/new",
        f"/staff/notices/{published_notice}",
        f"/staff/notices/{published_notice}/poster",
        f"/staff/notices/{published_notice}/revisions/1",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        check_headers(response, url)
        assert response.headers["Cache-Control"] == "no-store", url
        # No inline script or style attributes anywhere (the CSP would block them).
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and " onclick=" not in html, url


def session_cookie(response: Any) -> dict[str, Any]:
    raw = next(
        v
        for v in response.headers.getlist("Set-Cookie")
        if v.startswith(("session=", "__Host-session="))  # __Host- over https (issue #19)
    )
    flags = {part.strip().split("=", 1)[0].lower(): part for part in raw.split(";")[1:]}
    return {"raw": raw, "flags": flags}


def test_session_cookie_is_httponly_lax_for_visitors_and_strict_for_staff(
    client: Any, make_user: Any
) -> None:
    user = make_user("triager")
    visitor = session_cookie(client.get("/staff/login"))  # a CSRF token, no login: Lax
    assert parse_dict_header(visitor["flags"]["samesite"].strip())["SameSite"] == "Lax"
    response = form_post(client, "/staff/login", {"email": user.email, "password": STAFF_PASSWORD})
    cookie = session_cookie(response)
    assert "httponly" in cookie["flags"]
    # Carrying a (half-done) staff login: never sent on requests started by another site.
    assert parse_dict_header(cookie["flags"]["samesite"].strip())["SameSite"] == "Strict"
    assert "secure" not in cookie["flags"]  # plain http in development


@pytest.mark.config(PREFERRED_URL_SCHEME="https")
def test_session_cookie_is_secure_behind_https(app: Any, make_user: Any) -> None:
    user = make_user("triager")
    client = app.test_client()
    base = "https://localhost"
    response = form_post(
        client,
        f"{base}/staff/login",
        {"email": user.email, "password": STAFF_PASSWORD},
        headers={"Referer": f"{base}/staff/login"},  # Flask-WTF checks it on https
    )
    assert response.status_code == 302
    assert "secure" in session_cookie(response)["flags"]
    assert response.headers.get("Strict-Transport-Security")
