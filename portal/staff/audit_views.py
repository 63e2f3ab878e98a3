"""The audit log's staff pages (admin only): events with filters, and a check of the chain."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.audit import PAGE_SIZE, Event, EventFilters, find_events
from portal.extensions import db
from portal.staff.auth import roles_required

bp = Blueprint("audit", __name__, url_prefix="/staff/audit")

# verify()'s reasons (English for the CLI and its logs) as the audit page says them.
REASONS = {
    "content does not match its hash": _l("内容与其哈希不符（记录被改动）"),
    "prev_hash does not match": _l("与前一条记录的链接不符"),
    "events after this one were deleted": _l("其后的记录被删除"),
    "the start of keyed hashing was altered": _l("密钥哈希的起点被改动"),
    "the start of keyed hashing was removed": _l("密钥哈希的起点被删除"),
    "a recorded anchor was altered": _l("已记录的锚点被改动"),
    "does not match the anchor recorded for it": _l("与为其记录的锚点不符"),
}


@bp.get("/")
@roles_required("admin")
def events() -> str:
    filters = EventFilters.from_args(request.args)
    events = find_events(filters, current_app.config["TIMEZONE"])
    actions = db.session.scalars(select(Event.action).distinct().order_by(Event.action))
    audit.record("audit.view", details=filters.query_args())  # reading the log is itself logged
    db.session.commit()
    return render_template(
        "staff/audit.html",
        events=events,
        filters=filters,
        actions=list(actions),
        verification=None,
        next_args=filters.query_args(before=events[-1].seq) if len(events) == PAGE_SIZE else None,
    )


@bp.get("/verify")
@roles_required("admin")
def verify() -> str:
    filters = EventFilters()
    return render_template(
        "staff/audit.html",
        events=[],
        filters=filters,
        actions=[],
        verification=_readable(audit.verify()),
        next_args=None,
    )


def _readable(result: audit.Verification) -> audit.Verification:
    if result.reason in REASONS:
        result.reason = str(REASONS[result.reason])
    elif result.reason and result.reason.endswith(" is missing"):
        result.reason = str(_l("该条记录缺失"))
    return result
