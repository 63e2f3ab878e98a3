"""Staff login: password policy, argon2, TOTP, lockout, sessions, logout, rate limit."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.staff import totp
from portal.staff.factors import replace_recovery_codes
from portal.staff.models import LoginNetwork, User, utcnow
from portal.staff.passwords import (
    MIN_LENGTH,
    common_passwords,
    hash_password,
    password_problems,
    verify_password,
)
from portal.workdays import as_utc
from tests.conftest import STAFF_PASSWORD, form_post, totp_code_for

GENERIC = "登录失败"


def login(client: Any, email: str, password: str) -> Any:
    return form_post(client, "/staff/login", {"email": email, "password": password})


def full_login(app: Flask, client: Any, user: User, next_url: str = "") -> Any:
    """Password, then the TOTP code: the response of the last step."""
    url = f"/staff/login?next={next_url}" if next_url else "/staff/login"
    first = form_post(client, url, {"email": user.email, "password": STAFF_PASSWORD})
    assert first.location == "/staff/login/verify", first.get_data(as_text=True)[:300]
    return form_post(client, "/staff/login/verify", {"code": totp_code_for(app, user.id)})


def actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(_db.session.scalars(select(Event.action).order_by(Event.seq)))


def reload(app: Flask, user: User) -> User:
    with app.app_context():
        fresh = _db.session.get_one(User, user.id)
        _db.session.expunge(fresh)
        return fresh


# ------------------------------------------------------------------------- policy, hashing


def test_common_password_list_is_large_and_has_chinese_favourites() -> None:
    words = common_passwords()
    assert len(words) >= 10_000
    for expected in ("woaini1314", "5201314", "qq123456", "a1b2c3d4", "1qaz2wsx3edc"):
        assert expected in words


@pytest.mark.parametrize("password", ["short", "x" * (MIN_LENGTH - 1)])
def test_short_passwords_are_refused(password: str) -> None:
    assert any("12" in p for p in password_problems(password))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(w for w in common_passwords() if len(w) >= MIN_LENGTH)))
def test_every_long_common_password_is_refused_whatever_its_case(word: str) -> None:
    assert password_problems(word.upper())
    assert password_problems(word)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=MIN_LENGTH, max_size=40).filter(lambda s: len(set(s.lower())) >= 4))
def test_long_uncommon_passwords_are_accepted(password: str) -> None:
    if password.strip().lower() in common_passwords():
        return
    assert password_problems(password) == []


def test_password_equal_to_email_is_refused() -> None:
    assert password_problems("someone.long@x.cn", email="someone.long@x.cn")


@settings(max_examples=5, deadline=None)
@given(st.text(min_size=12, max_size=64), st.text(min_size=1, max_size=64))
def test_argon2id_hash_verifies_only_its_own_password(password: str, other: str) -> None:
    stored = hash_password(password)
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert verify_password(stored, password)
    assert verify_password(stored, other) == (other == password)
    assert not verify_password(None, password)


def test_production_hashes_use_argon2id_with_at_least_64_mib() -> None:
    from argon2 import extract_parameters

    from portal.staff import passwords

    params = extract_parameters(passwords.hash_password("some long password 1"))
    assert params.type.name == "ID"
    assert params.memory_cost >= 65536 and params.time_cost >= 3


def test_totp_code_is_accepted_once_and_with_one_step_of_drift() -> None:
    secret = totp.new_secret()
    now = 1_700_000_000.0
    generator = pyotp.TOTP(secret)
    code = generator.at(now)
    counter = totp.accepted_counter(secret, code, None, now=now)
    assert counter is not None
    assert totp.accepted_counter(secret, code, counter, now=now) is None  # replay
    assert totp.accepted_counter(secret, generator.at(now - 30), None, now=now) is not None
    assert totp.accepted_counter(secret, generator.at(now - 90), None, now=now) is None
    assert totp.accepted_counter(secret, "abcdef", None, now=now) is None


def test_recovery_codes_are_hashed_and_single_use() -> None:
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10
    hashes = totp.hash_recovery_codes(codes[:2])
    assert all(code not in "".join(hashes) for code in codes)
    remaining = totp.use_recovery_code(hashes, codes[1].upper().replace("-", " "))
    assert remaining is not None and len(remaining) == 1
    assert totp.use_recovery_code(remaining, codes[1]) is None


# ---------------------------------------------------------------------------------- login


def test_anonymous_visitors_are_sent_to_login_from_everything_under_staff(client: Any) -> None:
    for path in ("/staff/", "/staff/notices/", "/staff/audit/", "/staff/users", "/staff/nope"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.startswith("/staff/login?next=")


def test_login_form_has_the_contract_fields(client: Any) -> None:
    html = client.get("/staff/login").get_data(as_text=True)
    for name in ("email", "password", "csrf_token"):
        assert f'name="{name}"' in html


def test_triager_logs_in_with_password_and_second_factor_and_lands_on_the_next_page(
    app: Flask, client: Any, make_user: Any
) -> None:
    user = make_user("triager")
    response = form_post(
        client,
        "/staff/login?next=/staff/account",
        {"email": user.email.upper(), "password": STAFF_PASSWORD},
    )
    assert response.location == "/staff/login/verify"  # triagers see personal data: 2FA
    assert client.get("/staff/account").status_code == 302
    response = form_post(client, "/staff/login/verify", {"code": totp_code_for(app, user.id)})
    assert response.status_code == 302 and response.location == "/staff/account"
    assert user.email in client.get("/staff/account").get_data(as_text=True)
    assert actions(app)[-1] == "login.success"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/staff", "/notices", "/staff/%0d%0aSet-Cookie:x=1"],
)
def test_login_never_redirects_off_the_staff_site(
    app: Flask, client: Any, make_user: Any, target: str
) -> None:
    user = make_user("triager")
    response = full_login(app, client, user, next_url=target)
    assert response.status_code == 302 and response.location == "/staff/"


def test_wrong_password_and_unknown_email_look_the_same(client: Any, make_user: Any) -> None:
    user = make_user("triager")
    wrong = login(client, user.email, "not the password at all")
    unknown = login(client, "nobody@staff.test", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert GENERIC in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count(GENERIC) == unknown.get_data(as_text=True).count(
        GENERIC
    )
    assert user.email not in unknown.get_data(as_text=True)


def test_disabled_account_cannot_log_in(client: Any, make_user: Any) -> None:
    user = make_user("triager", active=False)
    assert login(client, user.email, STAFF_PASSWORD).status_code == 401


def test_wrong_passwords_slow_down_their_network_progressively(
    app: Flask, client: Any, make_user: Any
) -> None:
    user = make_user("triager")
    for _ in range(3):  # LOGIN_FREE_FAILURES
        assert login(client, user.email, "wrong password 123").status_code == 401
    # The 4th failure starts a delay: even the right password waits, with the same message.
    assert login(client, user.email, "wrong password 123").status_code == 401
    refused = login(client, user.email, STAFF_PASSWORD)
    assert refused.status_code == 401 and GENERIC in refused.get_data(as_text=True)
    with app.app_context():
        row = _db.session.scalars(select(LoginNetwork).where(LoginNetwork.user_id == user.id)).one()
        assert row is not None and row.failures == 4 and row.blocked_until is not None
        first_wait = as_utc(row.blocked_until) - utcnow()
        assert timedelta(seconds=1) < first_wait <= timedelta(seconds=5)
        row.blocked_until = utcnow() - timedelta(seconds=1)
        _db.session.commit()
    login(client, user.email, "wrong password 123")
    with app.app_context():
        row = _db.session.scalars(select(LoginNetwork).where(LoginNetwork.user_id == user.id)).one()
        assert row.blocked_until is not None
        assert as_utc(row.blocked_until) - utcnow() > first_wait  # doubled
        row.blocked_until = utcnow() - timedelta(seconds=1)
        _db.session.commit()
    assert full_login(app, client, user).status_code == 302
    assert "login.success" in actions(app)


def test_old_failures_are_forgotten_after_the_window(
    app: Flask, client: Any, make_user: Any
) -> None:
    user = make_user("triager")
    for _ in range(3):
        login(client, user.email, "wrong password 123")
    with app.app_context():
        row = _db.session.scalars(select(LoginNetwork).where(LoginNetwork.user_id == user.id)).one()
        row.first_failed_at = utcnow() - timedelta(hours=2)
        _db.session.commit()
    login(client, user.email, "wrong password 123")  # counts as the first of a new window
    assert full_login(app, client, user).status_code == 302


def test_editor_needs_a_totp_code(app: Flask, client: Any, make_user: Any) -> None:
    user = make_user("editor")
    response = login(client, user.email, STAFF_PASSWORD)
    assert response.location == "/staff/login/verify"
    assert client.get("/staff/").status_code == 302  # the password alone does not let you in
    assert form_post(client, "/staff/login/verify", {"code": "000000"}).status_code in (401, 302)
    code = totp_code_for(app, user.id)
    response = form_post(client, "/staff/login/verify", {"code": code})
    assert response.status_code == 302 and response.location == "/staff/"
    assert client.get("/staff/").status_code == 200
    # The same code cannot be used again by someone who watched it being typed.
    other = app.test_client()
    login(other, user.email, STAFF_PASSWORD)
    assert form_post(other, "/staff/login/verify", {"code": code}).status_code == 401


def test_wrong_totp_codes_count_as_failures_of_the_network(
    app: Flask, client: Any, make_user: Any
) -> None:
    user = make_user("editor")
    for _ in range(4):
        login(client, user.email, STAFF_PASSWORD)
        form_post(client, "/staff/login/verify", {"code": "12345x"})
    assert login(client, user.email, STAFF_PASSWORD).status_code == 401
    assert actions(app).count("login.failure") >= 4


def test_password_alone_never_enrols_a_second_factor(
    app: Flask, client: Any, make_user: Any
) -> None:
    user = make_user("editor", totp=False)
    response = login(client, user.email, STAFF_PASSWORD)
    assert response.status_code == 403
    assert "绑定链接" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    assert client.get("/staff/login/enrol").status_code in (302, 404)


def test_recovery_code_replaces_the_phone_once(app: Flask, make_user: Any) -> None:
    user = make_user("editor")
    with app.app_context():
        row = _db.session.get_one(User, user.id)
        codes = replace_recovery_codes(row)[:2]
        _db.session.commit()
    first = app.test_client()
    login(first, user.email, STAFF_PASSWORD)
    assert form_post(first, "/staff/login/verify", {"code": codes[0]}).status_code == 302
    second = app.test_client()
    login(second, user.email, STAFF_PASSWORD)
    assert form_post(second, "/staff/login/verify", {"code": codes[0]}).status_code == 401
    with app.app_context():
        assert _db.session.get_one(User, user.id).recovery_codes_left == 9


@pytest.mark.config(TOTP_REQUIRED_ROLES=("admin", "editor"))
def test_totp_requirement_is_configurable_per_role(client: Any, make_user: Any) -> None:
    user = make_user("triager", totp=False)
    assert login(client, user.email, STAFF_PASSWORD).location == "/staff/"


def test_every_role_needs_a_second_factor_by_default(client: Any, make_user: Any) -> None:
    for role in ("admin", "supervisor", "editor", "triager", "viewer"):
        user = make_user(role, totp=False)
        assert login(app_client := client, user.email, STAFF_PASSWORD).status_code == 403, role
        assert app_client.get("/staff/").status_code == 302


# ------------------------------------------------------------------------------- sessions


def test_login_starts_a_fresh_session(client: Any, make_user: Any) -> None:
    user = make_user("triager")
    client.get("/staff/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    full_login(client.application, client, user)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        first_sid = sess["sid"]
    form_post(client, "/staff/logout", {}, form_url="/staff/account")
    full_login(client.application, client, user)
    with client.session_transaction() as sess:
        assert sess["sid"] != first_sid


def test_idle_session_ends_after_thirty_minutes(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    assert client.get("/staff/account").status_code == 200
    limit = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    assert limit == 30 * 60
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - limit + 60  # 29 minutes idle: still in
    assert client.get("/staff/account").status_code == 200
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - limit - 1
    response = client.get("/staff/account")
    assert response.status_code == 302 and "/staff/login" in response.location


def test_logout_is_post_only_and_kills_copied_cookies(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    assert client.get("/staff/logout").status_code == 405
    stolen = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/staff/account").status_code == 200
    response = form_post(client, "/staff/logout", {}, form_url="/staff/account")
    assert response.status_code == 302
    assert client.get("/staff/account").status_code == 302
    assert stolen.get("/staff/account").status_code == 302


def test_disabling_an_account_ends_its_open_sessions(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    admin = staff_login("admin")
    user_id = client.user.id
    response = form_post(admin, f"/staff/users/{user_id}/disable", {}, form_url="/staff/users")
    assert response.status_code == 302
    assert client.get("/staff/account").status_code == 302
    assert "user.disable" in actions(app)


def test_password_change_enforces_policy_and_ends_sessions(
    app: Flask, client: Any, staff_login: Any
) -> None:
    staff = staff_login("triager")
    bad = form_post(
        staff,
        "/staff/account/password",
        {
            "current_password": STAFF_PASSWORD,
            "new_password": "woaini1314520",
            "confirm": "woaini1314520",
        },
        form_url="/staff/account",
    )
    assert bad.status_code == 400 and "常见" in bad.get_data(as_text=True)
    new = "a much better passphrase 7"
    good = form_post(
        staff,
        "/staff/account/password",
        {"current_password": STAFF_PASSWORD, "new_password": new, "confirm": new},
        form_url="/staff/account",
    )
    assert good.status_code == 302
    assert staff.get("/staff/account").status_code == 302
    assert login(client, staff.user.email, new).location == "/staff/login/verify"


def test_admin_creates_accounts_only_with_a_good_password(app: Flask, staff_login: Any) -> None:
    admin = staff_login("admin")
    data = {"email": "new.editor@staff.test", "display_name": "新编辑", "role": "editor"}
    weak = form_post(admin, "/staff/users", {**data, "password": "qwertyuiop123"})
    assert weak.status_code == 400
    ok = form_post(admin, "/staff/users", {**data, "password": "long and unusual 2024 phrase"})
    assert ok.status_code == 302
    assert "new.editor@staff.test" in admin.get("/staff/users").get_data(as_text=True)
    assert "user.create" in actions(app)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3/minute")
def test_login_posts_are_rate_limited_per_ip(client: Any) -> None:
    codes = [login(client, "x@staff.test", "whatever password").status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    assert client.get("/staff/login").status_code == 200  # reading the form is not limited


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(email=st.text(max_size=300), password=st.text(max_size=300))
def test_any_input_to_the_login_form_is_refused_cleanly(
    client: Any, email: str, password: str
) -> None:
    response = login(client, email, password)
    assert response.status_code in (400, 401)
