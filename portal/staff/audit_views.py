"""The audit log's staff pages (admin only): events with filters, and a check of the chain."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from portal import audit
from portal.audit import PAGE_SIZE, Event, EventFilters, find_events
from portal.extensions import db
from portal.staff.auth import roles_required

bp = Blueprint("audit", __name__, url_prefix="/staff/audit")


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
        verification=audit.verify(),
        next_args=None,
    )
