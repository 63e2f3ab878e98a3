"""Authentication and access control: login steps, lockout, sessions, role decorators.

Flask's cookie session has no server-side id, so "rotating the session id" means: clear the
session at login and store the user's session token (part of the Flask-Login id). The token is
checked against the user row on every request; rotating it on logout, disable, password change
or 2FA reset ends every session of the account, including copied cookies.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from portal import audit
from portal.extensions import db, login_manager
from portal.staff.models import User, new_session_token, utcnow
from portal.staff.passwords import hash_password, needs_rehash, verify_password
from portal.workdays import as_utc

P = ParamSpec("P")
R = TypeVar("R")

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
PENDING_LIFETIME = 300  # seconds between the password step and the TOTP step
# Endpoints under /staff/ that anonymous visitors may reach.
PUBLIC_STAFF_ENDPOINTS = {"staff.login", "staff.verify", "staff.enrol_at_login", "static"}


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


def totp_required(user: User) -> bool:
    required = current_app.config.get("TOTP_REQUIRED_ROLES", ("admin", "editor"))
    return user.has_role(*required) if user.role != "admin" else "admin" in required


def register_failure(user: User | None, email: str, reason: str) -> None:
    """Count a failed attempt; the fifth within FAILURE_WINDOW locks the account. Commits."""
    now = utcnow()
    audit.record(
        "login.failure",
        object_type="user",
        object_id=user.id if user else None,
        details={"email": email.replace("\x00", "")[:254], "reason": reason},
        actor="public",
    )
    if user is not None and not user.is_locked(now):
        first = user.first_failed_at
        if first is None or now - as_utc(first) > FAILURE_WINDOW:
            user.first_failed_at, user.failed_logins = now, 0
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins, user.first_failed_at = 0, None
            audit.record(
                "login.lockout",
                object_type="user",
                object_id=user.id,
                details={"email": user.email, "until": user.locked_until.isoformat()},
                actor="public",
            )
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
    if user.is_locked(utcnow()):
        register_failure(user, email, "locked")
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
    """Remember (in a fresh session) that the password step passed; TOTP comes next."""
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
    if user.is_locked(utcnow()):
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
    session["seen"] = time.time()
    user.failed_logins, user.first_failed_at, user.locked_until = 0, None, None
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
    if target:
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


def _idle_timeout() -> WerkzeugResponse | None:
    """End a staff session idle for PERMANENT_SESSION_LIFETIME; send /staff/ visitors to login."""
    if "_user_id" in session:
        limit = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
        if time.time() - session.get("seen", 0) > limit:
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


def init_auth(app: Flask) -> None:
    login_manager.session_protection = None  # the session token does this job, see above
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_idle_timeout)
    app.after_request(_no_store)
