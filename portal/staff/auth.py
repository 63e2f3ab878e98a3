"""Authentication and access control: login steps, sessions, the session cookie, roles.

Flask's cookie session has no server-side id, so "rotating the session id" means: clear the
session at login and store the user's session token (part of the Flask-Login id). The token is
checked against the user row on every request; rotating it on logout, disable, password change
or 2FA reset ends every session of the account, including copied cookies.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from portal import audit
from portal.extensions import db, login_manager
from portal.personal_data import blind_index
from portal.staff import throttle
from portal.staff.models import User, new_session_token, utcnow
from portal.staff.passwords import hash_password, needs_rehash, verify_password

P = ParamSpec("P")
R = TypeVar("R")

PENDING_LIFETIME = 300  # seconds between the password step and the second factor
# Endpoints under /staff/ that anonymous visitors may reach.
PUBLIC_STAFF_ENDPOINTS = {
    "staff.login",
    "staff.verify",
    "staff.enrol_link",
    "static",
}


def roles_required(
    *roles: str,
) -> Callable[[Callable[P, R]], Callable[P, R | WerkzeugResponse]]:
    """Only logged-in staff with one of ``roles`` (admin always passes); others get 403."""

    def decorator(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
            if not current_user.is_authenticated:
                return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def find_user(email: str) -> User | None:
    if "\x00" in email:  # no address holds one, and PostgreSQL refuses it in a query
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def second_factor_required(user: User) -> bool:
    """Every role listed in TOTP_REQUIRED_ROLES (by default all: each can see personal data)."""
    required = current_app.config.get("TOTP_REQUIRED_ROLES", ())
    return user.has_role(*required) if user.role != "admin" else "admin" in required


def register_failure(user: User | None, email: str, reason: str) -> None:
    """Record a failed attempt and slow down its network (staff.throttle). Commits.

    The typed address is not stored (a password typed into it by mistake would be): only the
    matched account and a keyed hash, enough to see one address being tried many times."""
    audit.record(
        "login.failure",
        object_type="user",
        object_id=user.id if user else None,
        details={
            "email_hash": blind_index(email.replace("\x00", "")[:254], "login-failure")[:16],
            "reason": reason,
        },
        actor="public",
    )
    if user is not None and reason != "throttled":  # a refused attempt tested no password
        throttle.record_failure(user, throttle.request_network())
    db.session.commit()


def check_password(email: str, password: str) -> User | None:
    """The user when the password step passes; otherwise records the failure and gives None.

    Every refusal looks the same to the visitor: unknown address, wrong password, locked or
    disabled account.
    """
    user = find_user(email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        register_failure(None, email, "unknown email")
        return None
    if throttle.blocked(user, throttle.request_network()):
        register_failure(user, email, "throttled")
        return None
    if not ok:
        register_failure(user, email, "wrong password")
        return None
    if not user.active:
        register_failure(user, email, "disabled")
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_second_step(user: User) -> None:
    """Remember (in a fresh session) that the password step passed; the second factor is
    next."""
    session.clear()
    session["pending_user"] = user.id
    session["pending_token"] = user.session_token
    session["pending_at"] = time.time()


def pending_user() -> User | None:
    user_id = session.get("pending_user")
    if user_id is None or time.time() - session.get("pending_at", 0) > PENDING_LIFETIME:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_token != session.get("pending_token"):
        return None
    if throttle.blocked(user, throttle.request_network()):
        return None
    return user


def complete_login(user: User, *, method: str) -> None:
    """Clear the session, log the user in with a fresh session, record the event. Commits."""
    session.clear()
    if not user.session_token:
        user.session_token = new_session_token()
    login_user(user)
    session.permanent = True
    session["sid"] = secrets.token_urlsafe(16)  # a new value: the old cookie is worthless
    now = time.time()
    session["seen"] = session["login_at"] = session["auth_at"] = now
    throttle.record_success(user, throttle.request_network())
    user.last_login_at = utcnow()
    audit.record(
        "login.success",
        object_type="user",
        object_id=user.id,
        details={"email": user.email, "method": method},
        actor=user.actor,
    )
    db.session.commit()


def end_all_sessions(user: User) -> None:
    """Every cookie carrying the old token stops working (caller commits)."""
    user.session_token = new_session_token()


def logout(user: User) -> None:
    audit.record("logout", object_type="user", object_id=user.id, actor=user.actor)
    end_all_sessions(user)
    db.session.commit()
    logout_user()
    session.clear()


def safe_next(target: str | None) -> str:
    """Only same-site paths under /staff/ are followed after login (no open redirect)."""
    if target and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        # Control characters (CR, LF) would break the Location header: refused, not followed.
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/staff")
            and "\\" not in target
        ):
            return target
    return url_for("staff.home")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _, token = user_id.partition(":")
    if not ident.isdigit() or not token:
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or not secrets.compare_digest(user.session_token, token):
        return None
    return user


def session_expired(now: float) -> bool:
    """Idle for PERMANENT_SESSION_LIFETIME, or older than STAFF_SESSION_MAX_AGE however busy."""
    config = current_app.config
    idle = now - session.get("seen", 0) > config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    absolute = now - session.get("login_at", 0) > config["STAFF_SESSION_MAX_AGE"].total_seconds()
    return idle or absolute


def _idle_timeout() -> WerkzeugResponse | None:
    """End a staff session idle too long or too old; send /staff/ visitors to login."""
    if "_user_id" in session:
        if session_expired(time.time()):
            logout_user()
            session.clear()
        else:
            session["seen"] = time.time()
    if (
        request.path.startswith("/staff")
        and request.endpoint not in PUBLIC_STAFF_ENDPOINTS
        and not current_user.is_authenticated
    ):
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    return None


def _unauthorized() -> WerkzeugResponse:
    return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))


def _no_store(response: Response) -> Response:
    # Staff pages show personal data: never keep them in a shared cache or the back button.
    if request.path.startswith("/staff"):
        response.headers["Cache-Control"] = "no-store"
    return response


class PortalSessionInterface(SecureCookieSessionInterface):
    """The one session cookie, hardened (issue #19, item 18).

    Over HTTPS it is named ``__Host-session``: the browser then accepts it only when Secure,
    for Path=/ and with no Domain, so no sibling subdomain can plant or shadow it. While it
    carries a staff login (or a login half done) it is SameSite=Strict: no request started by
    another site ever carries a staff session. A citizen's cookie (CSRF token, receipt id)
    keeps the configured SameSite=Lax, so arriving at the form from a link works as before.
    One cookie cannot be both at once; Strict follows the login, not the path, because staff
    also open public pages (notices) in the same browser."""

    def get_cookie_name(self, app: Flask) -> str:
        config = app.config
        if config["SESSION_COOKIE_SECURE"] and not config.get("SESSION_COOKIE_DOMAIN"):
            return "__Host-" + config["SESSION_COOKIE_NAME"]
        return str(config["SESSION_COOKIE_NAME"])

    def get_cookie_path(self, app: Flask) -> str:
        return "/" if app.config["SESSION_COOKIE_SECURE"] else super().get_cookie_path(app)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if g.get("staff_cookie"):
            return "Strict"
        return super().get_cookie_samesite(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        g.staff_cookie = "_user_id" in session or "pending_user" in session
        super().save_session(app, session, response)


def init_auth(app: Flask) -> None:
    app.session_interface = PortalSessionInterface()
    login_manager.session_protection = None  # the session token does this job, see above
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_idle_timeout)
    app.after_request(_no_store)
