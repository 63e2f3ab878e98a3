"""Submission workflow: which status may follow which, and when a reason is required.

The rules (STATUSES, ALLOWED, REASON_REQUIRED, can_transition, check_transition) are pure.
``change_status`` applies them to a Submission and writes a StatusChange row plus an audit
event in the caller's transaction; it imports the database lazily so this module stays
importable without an app.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

if TYPE_CHECKING:
    from portal.intake.models import Submission
    from portal.triage.models import StatusChange

STATUSES: tuple[str, ...] = (
    "received",
    "triaged",
    "in_progress",
    "waiting",
    "replied",
    "follow_up",
    "reopened",
    "closed",
    "duplicate",
    "referred",
    "spam",
    "held",
)

# Lazy: translated when shown, in the language of the request (Chinese outside one).
STATUS_LABELS: dict[str, str] = {
    "received": _l("已接收"),
    "triaged": _l("已分办"),
    "in_progress": _l("办理中"),
    "waiting": _l("等待补充"),
    "replied": _l("已答复"),
    "follow_up": _l("新追问"),
    "reopened": _l("不满意重办"),
    "closed": _l("已办结"),
    "duplicate": _l("重复"),
    "referred": _l("已转办"),
    "spam": _l("垃圾信息"),
    "held": _l("待核查"),
}

ALLOWED: dict[str, frozenset[str]] = {
    # A reply may go straight to a fresh submission (replies.send_reply), hence received→replied.
    "received": frozenset(
        {"triaged", "in_progress", "waiting", "replied", "spam", "duplicate", "referred", "held"}
    ),
    "held": frozenset({"received", "spam"}),
    "triaged": frozenset({"in_progress", "waiting", "replied", "referred", "duplicate", "closed"}),
    "in_progress": frozenset({"waiting", "replied", "referred", "closed"}),
    # The citizen's answer (or staff giving up waiting) resumes the clock.
    "waiting": frozenset({"in_progress", "replied", "closed"}),
    # A citizen's follow-up or an unsatisfied rating raises a replied/closed case again.
    "replied": frozenset({"closed", "in_progress", "follow_up", "reopened"}),
    "closed": frozenset({"in_progress", "follow_up", "reopened"}),  # reopen
    "follow_up": frozenset({"in_progress", "waiting", "replied", "closed", "reopened"}),
    "reopened": frozenset({"in_progress", "waiting", "replied", "closed"}),
    # Undo a wrong decision: back to the start of triage.
    "duplicate": frozenset({"received"}),
    "referred": frozenset({"received"}),
    "spam": frozenset({"received"}),
}

REASON_REQUIRED: frozenset[str] = frozenset({"spam", "referred", "closed", "duplicate"})
# States in which a submission still needs work from the office (deadlines apply).
# "waiting" is open but its reply clock is paused (see triage.pauses).
OPEN_STATUSES: frozenset[str] = frozenset(
    {"received", "triaged", "in_progress", "held", "waiting", "follow_up", "reopened"}
)
# Open states the citizen raised after a reply: the staff home page counts them.
RAISED_STATUSES: frozenset[str] = frozenset({"follow_up", "reopened"})
MAX_REASON = 2000
# Control characters (NUL breaks PostgreSQL text) are dropped; line breaks and tabs stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TransitionError(ValueError):
    """A status change the rules forbid; the message is for staff, in Chinese."""


def label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def can_transition(old: str, new: str) -> bool:
    return new in ALLOWED.get(old, frozenset())


def allowed_targets(old: str) -> list[str]:
    """The statuses reachable from ``old``, in workflow order."""
    targets = ALLOWED.get(old, frozenset())
    return [s for s in STATUSES if s in targets]


def check_transition(old: str, new: str, reason: str | None = None) -> str | None:
    """Raise TransitionError unless old -> new is allowed; return the cleaned reason."""
    if new not in STATUSES:
        raise TransitionError(_("未知的状态“%(status)s”。", status=new))
    if not can_transition(old, new):
        raise TransitionError(_("不能从“%(old)s”改为“%(new)s”。", old=label(old), new=label(new)))
    cleaned = _CONTROL.sub("", reason or "").strip()[:MAX_REASON] or None
    if new in REASON_REQUIRED and cleaned is None:
        raise TransitionError(_("改为“%(new)s”须填写理由。", new=label(new)))
    return cleaned


def change_status(
    submission: Submission, new_status: str, *, actor: str, reason: str | None = None
) -> StatusChange:
    """Move ``submission`` to ``new_status``; writes StatusChange + audit event, never commits.

    Raises TransitionError (nothing written) when the rules forbid the change, including a
    change to the status it already has.
    """
    from portal import audit
    from portal.extensions import db
    from portal.triage.models import StatusChange

    old = submission.status
    if old == new_status:
        raise TransitionError(_("状态已经是“%(old)s”。", old=label(old)))
    cleaned = check_transition(old, new_status, reason)
    submission.status = new_status
    change = StatusChange(
        submission_id=submission.id, old=old, new=new_status, reason=cleaned, actor=actor
    )
    db.session.add(change)
    db.session.flush()
    audit.record(
        "submission.status",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "old": old, "new": new_status, "reason": cleaned},
        actor=actor,
    )
    return change
