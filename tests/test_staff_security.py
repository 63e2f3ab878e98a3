"""Issue #19, staff authentication: per-network throttling, enrolment links, sudo mode,
absolute session lifetime, single-use codes under concurrency, password-change throttle,
secrets kept out of the cookie, no typed e-mail field in the audit log, cookie hardening."""

from __future__ import annotations

import base64
import itertools
import json
import tempfile
import threading
import time
import zlib
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
from portal.outbox.models import OutboxMessage
from portal.staff import totp
from portal.staff.factors import replace_recovery_codes
from portal.staff.models import EnrolmentLink, User, utcnow
from tests.conftest import STAFF_PASSWORD, form_post, totp_code_for

ATTACKER = "198.51.100.7"
OWNER = "203.0.113.20"


def client_from(app: Flask, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def password_step(client: Any, email: str, password: str = STAFF_PASSWORD) -> Any:
    return form_post(client, "/staff/login", {"email": email, "password": password})


def full_login(app: Flask, client: Any, user: Any) -> Any:
    first = password_step(client, user.email)
    if first.location != "/staff/login/verify":
        return first
    return form_post(client, "/staff/login/verify", {"code": totp_code_for(app, user.id)})


def events(app: Flask, action: str) -> list[Event]:
    with app.app_context():
        found = list(_db.session.scalars(select(Event).where(Event.action == action)))
        for event in found:
            _db.session.expunge(event)
        return found


def cookie_payload(client: Any) -> str:
    """What anyone holding the session cookie reads, without the key: it is only signed."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    data = cookie.value
    compressed = data.startswith(".")
    body = data.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


# ------------------------------------------------------------------- item 2: lockout DoS


@pytest.mark.config(LOGIN_ACCOUNT_FAILURES=12, LOGIN_ALERT_FAILURES=10)
def test_attacker_hammering_from_elsewhere_cannot_lock_the_owner_out(
    app: Flask, make_user: Any
) -> None:
    admin = make_user("admin")
    user = make_user("triager")
    owner = client_from(app, OWNER)
    assert full_login(app, owner, user).status_code == 302  # the owner's usual network
    form_post(owner, "/staff/logout", {}, form_url="/staff/account")

    attacker = client_from(app, ATTACKER)
    for _ in range(3):
        assert password_step(attacker, user.email, "guess number one 1").status_code == 401
    for round_ in range(12):  # keep hammering: each delay is waited out (set into the past)
        with app.app_context():
            _db.session.execute(
                _db.text("UPDATE login_networks SET blocked_until = NULL WHERE network != :n"),
                {"n": "203.0.113.0/24"},
            )
            _db.session.commit()
        password_step(attacker, user.email, f"guess number {round_} 2")
    # The attacker's network is refused even with the right password...
    assert password_step(attacker, user.email).status_code == 401
    # ... and so is any network the account never used (the account-wide count tripped) ...
    stranger = client_from(app, "192.0.2.50")
    assert password_step(stranger, user.email).status_code == 401
    # ... but the owner, from the usual network, with the second factor, still gets in.
    response = full_login(app, owner, user)
    assert response.status_code == 302 and response.location == "/staff/"
    assert owner.get("/staff/account").status_code == 200

    lockouts = events(app, "login.lockout")
    assert {e.details["scope"] for e in lockouts} == {"network", "account"}
    with app.app_context():
        mails = [m for m in _db.session.scalars(select(OutboxMessage)) if m.to == admin.email]
        assert len(mails) == 2 and all(user.email in m.subject for m in mails)
        assert all("UTC" not in m.text for m in mails)
    # The admin sees the lockouts on the audit page.
    admin_client = client_from(app, OWNER)
    assert full_login(app, admin_client, admin).status_code == 302
    assert "login.lockout" in admin_client.get("/staff/audit/").get_data(as_text=True)


def test_delay_grows_with_each_failure_up_to_the_cap(app: Flask) -> None:
    from portal.staff.throttle import delay_after, policy

    with app.app_context():
        rules = policy()
    delays = [delay_after(n, rules) for n in range(1, 20)]
    assert delays[:3] == [timedelta(0)] * 3
    assert delays[3] == timedelta(seconds=5) and delays[4] == timedelta(seconds=10)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[-1] == timedelta(minutes=15)


# ------------------------------------------------------- item 5: no raw e-mail field stored


def test_login_failure_never_stores_what_was_typed_in_the_email_field(
    app: Flask, client: Any, make_user: Any
) -> None:
    user = make_user("triager")
    typed = "MySecretPassw0rd!"  # a password typed into the e-mail field by mistake
    password_step(client, typed, "whatever else")
    password_step(client, user.email, "wrong password again")
    failures = events(app, "login.failure")
    assert len(failures) == 2
    stored = json.dumps([e.details for e in failures], ensure_ascii=False)
    assert typed not in stored and typed.lower() not in stored
    assert user.email not in stored
    assert failures[1].object_id == str(user.id)
    # The same typed text gives the same keyed hash: repeated tries stay visible.
    password_step(client, typed, "once more")
    again = events(app, "login.failure")[-1]
    assert again.details["email_hash"] == failures[0].details["email_hash"]


# -------------------------------------------------------------- item 3: enrolment links


def _enrol_with_link(app: Flask, client: Any, url: str, user: Any) -> Any:
    path = url.split("://", 1)[-1].split("/", 1)[1]
    path = "/" + path
    assert form_post(client, path, {"password": STAFF_PASSWORD}).status_code == 302
    page = client.get(path)
    assert page.status_code == 200
    secret = page.get_data(as_text=True).split('id="totp-secret">')[1].split("<")[0]
    return form_post(client, path, {"code": pyotp.TOTP(secret).now()}), path


def test_admin_enrolment_link_binds_totp_once(app: Flask, staff_login: Any, make_user: Any) -> None:
    admin = staff_login("admin")
    user = make_user("triager", totp=False)
    page = form_post(admin, f"/staff/users/{user.id}/enrol-link", {}, form_url="/staff/users")
    assert page.status_code == 200
    url = page.get_data(as_text=True).split('id="enrol-link">')[1].split("<")[0]
    assert "/staff/enrol/" in url
    with app.app_context():
        link = _db.session.scalar(select(EnrolmentLink))
        assert link is not None and link.token_hash not in url  # only a digest is stored

    client = app.test_client()
    wrong = form_post(client, "/" + url.split("/", 3)[3], {"password": "not the password!"})
    assert wrong.status_code == 401
    done, path = _enrol_with_link(app, client, url, user)
    assert done.status_code == 200 and done.get_data(as_text=True).count("<code>") == 10
    assert client.get("/staff/").status_code == 200  # logged in
    with app.app_context():
        assert _db.session.get_one(User, user.id).has_totp
    # Single use: the same link is dead now.
    assert app.test_client().get(path).status_code == 404
    assert events(app, "user.enrol_link") and events(app, "user.2fa_enrol")


def test_cli_enrol_link_expires(app: Flask, runner: Any, make_user: Any) -> None:
    user = make_user("viewer", totp=False)
    result = runner.invoke(args=["users", "enrol-link", user.email])
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/staff/enrol/")
    path = "/" + url.split("/", 3)[3]
    assert app.test_client().get(path).status_code == 200
    with app.app_context():
        link = _db.session.scalars(select(EnrolmentLink)).one()
        link.expires_at = utcnow() - timedelta(seconds=1)
        _db.session.commit()
    assert app.test_client().get(path).status_code == 404


def test_reset_2fa_then_only_a_new_link_lets_the_account_in(
    app: Flask, staff_login: Any, runner: Any
) -> None:
    client = staff_login("editor")
    user = client.user
    assert runner.invoke(args=["users", "reset-2fa", user.email]).exit_code == 0
    fresh = app.test_client()
    assert password_step(fresh, user.email).status_code == 403
    url = runner.invoke(args=["users", "enrol-link", user.email]).output.strip()
    done, _path = _enrol_with_link(app, fresh, url, user)
    assert done.status_code == 200
    assert fresh.get("/staff/").status_code == 200


# ------------------------------------------------------------------- item 3: sudo mode


def _age_auth(client: Any, minutes: float) -> None:
    with client.session_transaction() as sess:
        sess["auth_at"] = time.time() - minutes * 60


def test_changing_the_second_factor_needs_a_recent_password_and_code(
    app: Flask, staff_login: Any
) -> None:
    client = staff_login("triager")
    assert client.get("/staff/account/2fa").status_code == 200  # just logged in: recent
    _age_auth(client, 11)
    response = client.get("/staff/account/2fa")
    assert response.status_code == 302 and response.location.startswith("/staff/reauth")
    refused = form_post(client, "/staff/account/recovery-codes", {}, form_url="/staff/account")
    assert refused.status_code == 302 and "/staff/reauth" in refused.location

    reauth = response.location
    bad = form_post(client, reauth, {"password": STAFF_PASSWORD, "code": "000000"})
    assert bad.status_code == 401
    good = form_post(
        client, reauth, {"password": STAFF_PASSWORD, "code": totp_code_for(app, client.user.id)}
    )
    assert good.status_code == 302 and good.location == "/staff/account/2fa"
    assert client.get("/staff/account/2fa").status_code == 200
    assert events(app, "login.reauth")


def test_revealing_personal_data_needs_recent_authentication(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    from portal.intake.service import Contact, Incoming, record_submission

    with app.app_context():
        receipt = record_submission(
            Incoming(
                notice=None,
                channel="web",
                body="单位逢年过节给职工发放购物卡，希望彻查。",
                consent=True,
                contact=Contact(name="李明", phone="13812341234", email="li@example.com"),
            )
        )
    client = staff_login("triager")
    url = f"/staff/submissions/{receipt.code}"
    _age_auth(client, 30)
    refused = form_post(client, url + "/personal-data", {"reason": "需电话核实"}, form_url=url)
    assert refused.status_code == 302 and refused.location.startswith("/staff/reauth")
    assert "13812341234" not in refused.get_data(as_text=True)
    form_post(
        client,
        refused.location,
        {"password": STAFF_PASSWORD, "code": totp_code_for(app, client.user.id)},
    )
    shown = form_post(client, url + "/personal-data", {"reason": "需电话核实"}, form_url=url)
    assert shown.status_code == 200 and "13812341234" in shown.get_data(as_text=True)


# ------------------------------------------------------- item 9: absolute session lifetime


def test_session_ends_after_twelve_hours_however_active(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    assert app.config["STAFF_SESSION_MAX_AGE"] == timedelta(hours=12)
    with client.session_transaction() as sess:
        sess["login_at"] = time.time() - 12 * 3600 + 60
        sess["seen"] = time.time()
    assert client.get("/staff/account").status_code == 200
    with client.session_transaction() as sess:
        sess["login_at"] = time.time() - 12 * 3600 - 1  # active a minute ago, but too old
    response = client.get("/staff/account")
    assert response.status_code == 302 and "/staff/login" in response.location


# ------------------------------------------------- item 10: codes used twice concurrently


def _race(app: Flask, clients: list[Any], code: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Both clients submit ``code`` at once; both pass the check before either writes."""
    barrier = threading.Barrier(len(clients), timeout=20)
    real = totp.accepted_counter

    def both_check_first(*args: Any, **kwargs: Any) -> int | None:
        result = real(*args, **kwargs)
        barrier.wait()
        return result

    monkeypatch.setattr(totp, "accepted_counter", both_check_first)
    statuses: list[int] = []

    def submit(client: Any, token: str) -> None:
        response = client.post("/staff/login/verify", data={"code": code, "csrf_token": token})
        statuses.append(response.status_code)

    tokens = []
    for client in clients:
        page = client.get("/staff/login/verify").get_data(as_text=True)
        tokens.append(page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0])
    threads = [
        threading.Thread(target=submit, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(statuses)


def test_one_totp_code_sent_twice_at_once_opens_one_session(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user("editor")
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert password_step(client, user.email).location == "/staff/login/verify"
    code = totp_code_for(app, user.id)
    assert _race(app, clients, code, monkeypatch) == [302, 401]
    assert len(events(app, "login.success")) == 1


def test_one_recovery_code_sent_twice_at_once_opens_one_session(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user("editor")
    with app.app_context():
        codes = replace_recovery_codes(_db.session.get_one(User, user.id))
        _db.session.commit()
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        password_step(client, user.email)
    assert _race(app, clients, codes[0], monkeypatch) == [302, 401]
    assert len(events(app, "login.success")) == 1


# ------------------------------------------------------------ item 11: password change


def test_password_change_failures_are_audited_and_throttled(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    new = "a much better passphrase 7"

    def change(current: str) -> Any:
        return form_post(
            client,
            "/staff/account/password",
            {"current_password": current, "new_password": new, "confirm": new},
            form_url="/staff/account",
        )

    for _ in range(4):
        assert change("not my password at all").status_code == 400
    assert len(events(app, "user.password_change_failure")) == 4
    # Now the right current password is refused too: the form is no password oracle.
    blocked = change(STAFF_PASSWORD)
    assert blocked.status_code == 400 and "稍后再试" in blocked.get_data(as_text=True)
    assert not events(app, "user.password_change")


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_PASSWORD_CHANGE="2/hour")
def test_password_change_is_rate_limited_per_account(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    data = {"current_password": "x" * 12, "new_password": "y" * 12, "confirm": "z"}
    codes = [
        form_post(client, "/staff/account/password", data, form_url="/staff/account").status_code
        for _ in range(3)
    ]
    assert codes == [400, 400, 429]


# -------------------------------------------------- item 14: secrets not in the cookie


def test_tracking_secret_never_travels_in_the_cookie(
    app: Flask, client: Any, published_notice: str
) -> None:
    url = f"/notices/{published_notice}/feedback"
    response = form_post(
        client,
        url,
        {"body": "建议公开采购项目审查情况报告，接受群众监督，避免走过场。"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    payload = cookie_payload(client)
    page = client.get("/feedback/receipt").get_data(as_text=True)
    secret = page.split('id="receipt-secret"')[1].split(">", 1)[1].split("<")[0]
    secret = "".join(secret.split())
    assert len(secret) >= 8
    assert secret not in payload and secret.lower() not in payload.lower()
    # Still shown once: a reload no longer shows it.
    assert secret not in "".join(client.get("/feedback/receipt").get_data(as_text=True).split())


def test_staff_receipt_secret_never_travels_in_the_cookie(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    triager = staff_login("triager")
    response = form_post(
        triager,
        "/staff/intake/new",
        {
            "channel": "phone",
            "received_on": utcnow().date().isoformat(),
            "body": "来电反映采购项目审查情况报告没有公开，希望接受群众监督。",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    payload = cookie_payload(triager)
    html = triager.get("/staff/intake/receipt").get_data(as_text=True)
    secret = html.split('id="receipt-secret">')[1].split("<")[0].replace(" ", "")
    assert len(secret) == 16 and secret not in payload


def test_totp_seed_being_enrolled_never_travels_in_the_cookie(app: Flask, staff_login: Any) -> None:
    client = staff_login("triager")
    page = client.get("/staff/account/2fa").get_data(as_text=True)
    seed = page.split('id="totp-secret">')[1].split("<")[0]
    assert len(seed) >= 16
    assert seed not in cookie_payload(client)


# ------------------------------------------------------------ item 18: cookie, next=CRLF


def test_crlf_in_next_is_not_followed(app: Flask, make_user: Any) -> None:
    user = make_user("triager")
    client = app.test_client()
    password_step(client, user.email).location  # noqa: B018
    with client.session_transaction() as sess:
        sess["next"] = "/staff/\r\nSet-Cookie: planted=1"
    response = form_post(client, "/staff/login/verify", {"code": totp_code_for(app, user.id)})
    assert response.status_code == 302 and response.location == "/staff/"
    assert "planted" not in response.headers.get("Set-Cookie", "")


@pytest.mark.config(PREFERRED_URL_SCHEME="https", SESSION_COOKIE_SECURE=True)
def test_cookie_is_host_prefixed_and_strict_once_it_carries_a_staff_login(
    app: Flask, make_user: Any
) -> None:
    user = make_user("triager")
    client = app.test_client()
    public = client.get("/staff/login", base_url="https://localhost")
    header = public.headers["Set-Cookie"]
    assert header.startswith("__Host-session=")
    assert "Secure" in header and "Path=/" in header and "Domain" not in header
    assert "SameSite=Lax" in header  # nobody logged in: a citizen's cookie stays Lax
    token = public.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
    response = client.post(
        "/staff/login",
        data={"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token.split('"')[0]},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/staff/login"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert "SameSite=Strict" in response.headers["Set-Cookie"]


# ------------------------------------------------------------- outside input, hypothesis


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_safe_next_gives_a_staff_path_a_location_header_can_carry(target: str) -> None:
    from werkzeug.utils import redirect as werkzeug_redirect

    from portal.staff.auth import safe_next

    app = _bare_app()
    with app.test_request_context("/staff/login"):
        chosen = safe_next(target)
        assert chosen == "/staff/" or chosen == target
        assert chosen.startswith("/staff") and "//" not in chosen.split("?")[0][:2]
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in chosen)
        werkzeug_redirect(chosen)  # never raises (a CR or LF in the header would)


_APP: list[Flask] = []


def _bare_app() -> Flask:
    """One app without a database for pure request-context checks."""
    if not _APP:
        from portal import create_app

        instance = tempfile.mkdtemp(prefix="portal-safe-next-")
        _APP.append(create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": instance}))
    return _APP[0]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.ip_addresses().map(str), st.text(max_size=50)))
def test_any_remote_address_maps_to_one_network_label(address: str) -> None:
    from portal.staff.throttle import network_of

    label = network_of(address)
    assert label == "unknown" or "/" in label
    assert len(label) <= 64  # fits login_networks.network
    assert network_of(address) == label


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answer=st.one_of(
        st.text(max_size=300),
        st.builds(
            json.dumps,
            st.dictionaries(
                st.sampled_from(["id", "rawId", "type", "response"]), st.text(max_size=40)
            ),
        ),
    )
)
def test_any_security_key_answer_is_refused_cleanly(
    app: Flask, make_user: Any, answer: str
) -> None:
    user = make_user("editor")
    client = app.test_client()
    password_step(client, user.email)
    response = form_post(client, "/staff/login/verify", {"code": "", "webauthn": answer})
    assert response.status_code in (302, 400, 401)
    assert client.get("/staff/account").status_code == 302  # never logged in by it


def test_an_enrolment_link_is_consumed_once(app: Flask, make_user: Any) -> None:
    from portal.staff import enrolment

    user = make_user("viewer", totp=False)
    with app.test_request_context():
        token = enrolment.new_link(_db.session.get_one(User, user.id), actor="cli")
        _db.session.commit()
        link = enrolment.valid_link(token)
        assert link is not None
        assert enrolment.consume(link) is True
        assert enrolment.consume(link) is False  # a second, concurrent use loses
        _db.session.commit()
        assert enrolment.valid_link(token) is None
