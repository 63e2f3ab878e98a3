"""A submission's history for staff, oldest first: status changes, notes, follow-ups,
assignments, referrals, replies and the audit events that have no richer row of their own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit, labels
from portal.extensions import db
from portal.intake.models import CHANNEL_LABELS, FollowUp, Submission
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
    actor: str | None = None  # in words (labels.actor_label), never "user:<id>:<email>"


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


def _finding_text(details: dict[str, Any], titles: dict[str, str]) -> str:
    number = str(details.get("finding", ""))
    title = details.get("title") or titles.get(number, "")
    return _("问题%(number)s：%(title)s", number=number, title=title)


# What an event's row says under its title, from the event's details and the notice's
# finding titles (by number): which finding was confirmed, removed or dismissed.
_EVENT_BODIES: dict[str, Callable[[dict[str, Any], dict[str, str]], str | None]] = {
    "personal_data.view": lambda d, _t: d.get("reason"),
    "submission.route": lambda d, _t: d.get("office_name"),
    "triage.finding.confirm": _finding_text,
    "triage.finding.remove": _finding_text,
    "triage.suggestion.dismiss": _finding_text,
    "attachment.download": lambda d, _t: d.get("filename"),
    # The case loop (#17): the rating in words, the working days a pause moved the deadline.
    "submission.rating": lambda d, _t: _rating_text(d.get("rating")),
    "submission.resume": lambda d, _t: _("暂停%(n)s个工作日", n=d.get("workdays", 0)),
    "submission.identity_decision": lambda d, _t: _decision_text(d.get("decision")),
}


def _rating_text(rating: Any) -> str:
    from portal.triage.satisfaction import label

    return label(str(rating or ""))


def _decision_text(decision: Any) -> str:
    return _("确认冒用") if decision == "upheld" else _("驳回")


def timeline(submission: Submission) -> list[TimelineEntry]:
    """Everything that happened to a submission, oldest first (staff only)."""
    sid = submission.id
    titles = (
        {str(f.number): f.title for f in submission.notice.findings} if submission.notice else {}
    )
    entries = [
        TimelineEntry(
            submission.received_at,
            "received",
            _("收到（%(channel)s）", channel=channel_label(submission.channel)),
            None,
            "public" if submission.channel == "web" else None,
        ),
        *_status_entries(sid),
        *_note_entries(sid),
        *_follow_up_entries(sid),
        *_assignment_entries(sid),
        *_referral_entries(sid),
        *_reply_entries(sid),
        *_event_entries(sid, titles),
    ]
    entries.sort(key=lambda e: as_utc(e.at))
    return _in_words(entries)


def channel_label(channel: str | None) -> str:
    return str(CHANNEL_LABELS.get(channel or "", _l("其他渠道")))


def _in_words(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Every actor as a name, "系统" or "市民" (one query for the staff among them)."""
    names = _user_names([labels.actor_user_id(e.actor) for e in entries])
    return [replace(e, actor=labels.actor_label(e.actor, names)) if e.actor else e for e in entries]


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
            f.at,
            "follow_up",
            _("补充（%(channel)s）", channel=channel_label(f.channel)),
            f.body,
            f.author or "submitter",
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
    return [
        TimelineEntry(r.created_at, "reply", _("答复"), r.body, r.author_name or None) for r in rows
    ]


def _event_entries(submission_id: int, titles: dict[str, str]) -> list[TimelineEntry]:
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
        body = _EVENT_BODIES.get(event.action, lambda _d, _t: None)(details, titles)
        out.append(
            TimelineEntry(event.at, "event", labels.action_label(event.action), body, event.actor)
        )
    return out
