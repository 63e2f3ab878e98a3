"""Sudo mode (issue #19, item 3): sensitive actions need a password and second factor entered
within the last STAFF_REAUTH_MINUTES, not just a session that was opened hours ago.

Guarded: changing the second factor, new recovery codes, revealing personal data, the ledger
export. A stolen or unattended session cannot do these without the owner's factors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from portal.staff.auth import safe_next

P = ParamSpec("P")
R = TypeVar("R")


def auth_is_recent(now: float | None = None) -> bool:
    now = time.time() if now is None else now
    limit = current_app.config["STAFF_REAUTH_MINUTES"] * 60
    return now - session.get("auth_at", 0) <= limit


def mark_reauthenticated() -> None:
    session["auth_at"] = time.time()


def _return_to() -> str:
    """Where to come back after re-authenticating: this page for a GET; for a POST the page
    that held its form (a POST cannot be replayed by a redirect)."""
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"))
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return safe_next(None)
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_next(path)


def recent_auth_required(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
    """Send a logged-in user whose last password + second factor is too old to re-enter them."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
        if current_user.is_authenticated and not auth_is_recent():
            flash(_("此操作需要再次验证身份：请输入密码和两步验证码。"), "info")
            return redirect(url_for("staff.reauth", next=_return_to()))
        return view(*args, **kwargs)

    return wrapped
