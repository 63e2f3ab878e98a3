"""A submission's history for staff, oldest first: status changes, notes, follow-ups,
assignments, referrals, replies and the audit events that have no richer row of their own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import FollowUp, Submission
from portal.staff.models import User
from portal.triage import workflow
from portal.triage.models import Assignment, Note, Referral, Reply, StatusChange
from portal.workdays import as_utc


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # received, status, note, follow_up, assignment, referral, reply, event
    title: str
    body: str | None = None
    actor: str | None = None


# Audit actions shown through their own richer rows instead.
_COVERED_EVENTS = frozenset(
    {
        "submission.status",
        "triage.note",
        "triage.assign",
        "triage.referral",
        "triage.merge",
        "submission.follow_up",
        "reply.send",
    }
)

EVENT_LABELS = {
    "submission.record": _l("登记"),
    "personal_data.view": _l("查看个人信息"),
    "triage.finding.confirm": _l("确认关联问题"),
    "triage.finding.remove": _l("移除关联问题"),
    "triage.suggestion.dismiss": _l("驳回系统建议"),
    "submission.route": _l("分办到承办单位"),
    "attachment.download": _l("下载附件"),
    "reply.publication_requested": _l("申请公开答复"),
    "reply.publication_approved": _l("批准公开答复"),
    "reply.publication_rejected": _l("不予公开答复"),
}

# What an event's row says under its title, from the event's details.
_EVENT_BODIES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "personal_data.view": lambda d: d.get("reason"),
    "submission.route": lambda d: d.get("office_name"),
    "triage.suggestion.dismiss": lambda d: _(
        "问题%(number)s：%(title)s", number=d.get("finding"), title=d.get("title", "")
    ),
}


def timeline(submission: Submission) -> list[TimelineEntry]:
    """Everything that happened to a submission, oldest first (staff only)."""
    sid = submission.id
    entries = [
        TimelineEntry(
            submission.received_at, "received", _("收到（%(channel)s）", channel=submission.channel)
        ),
        *_status_entries(sid),
        *_note_entries(sid),
        *_follow_up_entries(sid),
        *_assignment_entries(sid),
        *_referral_entries(sid),
        *_reply_entries(sid),
        *_event_entries(sid),
    ]
    entries.sort(key=lambda e: as_utc(e.at))
    return entries


def _status_entries(submission_id: int) -> list[TimelineEntry]:
    changes = db.session.scalars(
        select(StatusChange).where(StatusChange.submission_id == submission_id)
    )
    return [
        TimelineEntry(
            change.at,
            "status",
            _(
                "状态：%(old)s → %(new)s",
                old=workflow.label(change.old),
                new=workflow.label(change.new),
            ),
            change.reason,
            change.actor,
        )
        for change in changes
    ]


def _note_entries(submission_id: int) -> list[TimelineEntry]:
    notes = db.session.scalars(select(Note).where(Note.submission_id == submission_id))
    return [TimelineEntry(n.at, "note", _("内部备注"), n.body, n.author_name) for n in notes]


def _follow_up_entries(submission_id: int) -> list[TimelineEntry]:
    rows = db.session.scalars(select(FollowUp).where(FollowUp.submission_id == submission_id))
    return [
        TimelineEntry(
            f.at, "follow_up", _("补充（%(channel)s）", channel=f.channel), f.body, f.author
        )
        for f in rows
    ]


def _user_names(ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    users = db.session.scalars(select(User).where(User.id.in_(wanted)))
    return {u.id: u.display_name or u.email for u in users}


def _assignment_entries(submission_id: int) -> list[TimelineEntry]:
    assignments = list(
        db.session.scalars(select(Assignment).where(Assignment.submission_id == submission_id))
    )
    names = _user_names([a.user_id for a in assignments])
    return [
        TimelineEntry(
            a.at,
            "assignment",
            _("分派给 %(who)s", who=names.get(a.user_id or 0, _("（无人）"))),
            None,
            a.actor,
        )
        for a in assignments
    ]


def _referral_entries(submission_id: int) -> list[TimelineEntry]:
    referrals = db.session.scalars(select(Referral).where(Referral.submission_id == submission_id))
    return [
        TimelineEntry(
            r.at,
            "referral",
            (
                _("转办至 %(body)s（已发函）", body=r.body_name)
                if r.email_sent
                else _("转办至 %(body)s", body=r.body_name)
            ),
            "\n".join(p for p in (r.contact, r.note) if p) or None,
            r.actor,
        )
        for r in referrals
    ]


def _reply_entries(submission_id: int) -> list[TimelineEntry]:
    rows = db.session.scalars(select(Reply).where(Reply.submission_id == submission_id))
    return [TimelineEntry(r.created_at, "reply", _("答复"), r.body) for r in rows]


def _event_entries(submission_id: int) -> list[TimelineEntry]:
    events = db.session.scalars(
        select(audit.Event)
        .where(audit.Event.object_type == "submission", audit.Event.object_id == str(submission_id))
        .order_by(audit.Event.seq)
    )
    out = []
    for event in events:
        if event.action in _COVERED_EVENTS:
            continue
        details = event.details or {}
        body = _EVENT_BODIES.get(event.action, lambda _d: None)(details)
        label = EVENT_LABELS.get(event.action, event.action)
        out.append(TimelineEntry(event.at, "event", str(label), body, event.actor))
    return out
