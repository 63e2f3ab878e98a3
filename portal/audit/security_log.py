"""A copy of security events outside the database, and the record of denied requests.

Security events (logins and lockouts, account and second-factor changes, denied access,
exports, anchors) also go to the ``portal.security`` logger, which writes to syslog/journald
when ``/dev/log`` exists (``AUDIT_SYSLOG``): someone who can rewrite the database cannot
rewrite that copy. The line names the event (sequence number, action, actor, object, hash),
never its details, which may hold personal data. It is written when the event is recorded, so a
transaction rolled back afterwards (a failed lockout, say) still leaves its attempt in syslog.

403s, CSRF failures and 429s are written as ``access.denied`` events with the route (its rule,
not the URL, which may carry a tracking code or a search) and the reason; at most
``AUDIT_DENIED_PER_MINUTE`` of them a minute per process, so a flood of refused requests cannot
flood the chain: the next recorded one says how many were left out.
"""

from __future__ import annotations

import logging
import threading
import time
from logging.handlers import SysLogHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request

from portal.extensions import db

if TYPE_CHECKING:
    from portal.audit.chain import Event

logger = logging.getLogger("portal.security")

SYSLOG_SOCKET = "/dev/log"
# Actions copied to syslog: prefixes (ending in ".") or exact names.
SECURITY_ACTIONS = (
    "login.",
    "logout",
    "user.",
    "access.",
    "sudo.",
    "audit.",
    "ledger.export",
    "report.download",
    "personal_data.view",
)


def is_security_action(action: str) -> bool:
    return any(
        action.startswith(name) if name.endswith(".") else action == name
        for name in SECURITY_ACTIONS
    )


def emit(event: Event) -> None:
    """Copy a security event to the ``portal.security`` logger (called by record())."""
    if not is_security_action(event.action):
        return
    obj = f"{event.object_type}:{event.object_id}" if event.object_type else "-"
    logger.warning(
        "audit seq=%s action=%s actor=%s object=%s ip=%s hash=%s",
        event.seq,
        event.action,
        event.actor,
        obj,
        event.ip or "-",
        event.hash,
    )


def install_syslog(app: Flask, socket: str = SYSLOG_SOCKET) -> SysLogHandler | None:
    """Send ``portal.security`` to syslog/journald (once per process) when the socket exists."""
    if not app.config.get("AUDIT_SYSLOG", True) or not Path(socket).exists():
        return None
    for handler in logger.handlers:
        if isinstance(handler, SysLogHandler):
            return handler
    handler = SysLogHandler(address=socket, facility=SysLogHandler.LOG_AUTHPRIV)
    handler.setFormatter(logging.Formatter("portal[%(process)d]: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


# --- denied access ---------------------------------------------------------------------------


class DeniedBudget:
    """How many denied requests may still be recorded this minute (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute = -1
        self._used = 0
        self.skipped = 0

    def take(self, per_minute: int, now: float | None = None) -> int | None:
        """None when over budget; else how many were skipped before this one (reset)."""
        minute = int((time.monotonic() if now is None else now) // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._used = minute, 0
            if self._used >= per_minute:
                self.skipped += 1
                return None
            self._used += 1
            skipped, self.skipped = self.skipped, 0
            return skipped


def _denied_reason(response: Response) -> str | None:
    if getattr(g, "csrf_refused", False):
        return "csrf"
    return {403: "forbidden", 429: "rate_limited"}.get(response.status_code)


def record_denied(response: Response) -> Response:
    """after_request: an ``access.denied`` event for a 403, a 429 or a CSRF failure."""
    reason = _denied_reason(response)
    if reason is None:
        return response
    budget: DeniedBudget = current_app.extensions["portal.denied_budget"]
    skipped = budget.take(int(current_app.config.get("AUDIT_DENIED_PER_MINUTE", 30)))
    if skipped is None:
        return response
    from portal.audit import record  # the package's, so tests may replace it

    details: dict[str, Any] = {
        "reason": reason,
        "status": response.status_code,
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
    }
    if skipped:
        details["not_recorded_before"] = skipped
    try:
        db.session.rollback()  # nothing of the refused request is committed with it
        record("access.denied", details=details)
        db.session.commit()
    except Exception:  # a refusal must stay a refusal, not become a 500
        db.session.rollback()
        current_app.logger.exception("could not record a denied request")
    return response


def init_app(app: Flask) -> None:
    app.extensions["portal.denied_budget"] = DeniedBudget()
    app.after_request(record_denied)
    install_syslog(app)
