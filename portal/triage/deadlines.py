"""Deadlines in Chinese working days, overdue rows, and the assignees' daily digest.

Acknowledge and reply within the submission's office's working days (offices.service.ack_workdays
/ reply_workdays: the office's own rule, else ACK/REPLY_WITHIN_WORKDAYS), counted by
portal.workdays.WorkCalendar (chinese-calendar: public holidays and adjusted working Saturdays;
config EXTRA_HOLIDAYS / EXTRA_WORKDAYS for years it does not know yet). Intake sets both dates at
record time; ``due_dates`` recomputes them when a submission changes office (routing).
A digest lists only submissions of offices where its reader still holds a role.
The date rules are pure; the other functions import the database lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from portal.triage.workflow import OPEN_STATUSES, RAISED_STATUSES
from portal.workdays import WorkCalendar, local_today

if TYPE_CHECKING:
    from portal.intake.models import Submission
    from portal.offices.models import Office
    from portal.staff.models import User

DeadlineState = Literal["overdue", "due_soon", "open"]
DUE_SOON_WORKDAYS = 2  # "due soon": the reply is due within this many working days


def deadline_state(
    status: str,
    reply_due_on: date | None,
    today: date,
    calendar: WorkCalendar,
    soon: int = DUE_SOON_WORKDAYS,
) -> DeadlineState | None:
    """None when the office owes nothing (closed, replied, referred...), when the clock is paused
    (waiting for the submitter: triage.pauses) or there is no date."""
    if status not in OPEN_STATUSES or status == "waiting" or reply_due_on is None:
        return None
    if reply_due_on < today:
        return "overdue"
    if calendar.workdays_between(today, reply_due_on) <= soon:
        return "due_soon"
    return "open"


def ack_overdue(status: str, ack_due_on: date | None, today: date) -> bool:
    """Still untouched ("received") after the acknowledgement deadline."""
    return status == "received" and ack_due_on is not None and ack_due_on < today


def workdays_overdue(reply_due_on: date, today: date, calendar: WorkCalendar) -> int:
    return calendar.workdays_between(reply_due_on, today)


def due_dates(
    office: Office | None, received_on: date, calendar: WorkCalendar
) -> tuple[date, date]:
    """(acknowledge by, reply by) for a submission of ``office`` received on ``received_on``."""
    from portal.offices.service import ack_workdays, reply_workdays

    return (
        calendar.add_workdays(received_on, ack_workdays(office)),
        calendar.add_workdays(received_on, reply_workdays(office)),
    )


# --- the daily digest --------------------------------------------------------------------------


@dataclass
class Digest:
    user: User
    overdue: list[Submission] = field(default_factory=list)
    due_soon: list[Submission] = field(default_factory=list)
    open: list[Submission] = field(default_factory=list)
    # Of the above: raised again by the submitter (新追问, 不满意重办), and due today.
    raised: list[Submission] = field(default_factory=list)
    due_today: list[Submission] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.due_soon) + len(self.open)


def build_digests(
    today: date, calendar: WorkCalendar, soon: int = DUE_SOON_WORKDAYS
) -> list[Digest]:
    """One digest per active staff user with open submissions assigned to them, of offices
    where that user holds a role (an assignee who left an office no longer reads its cases).
    ``soon``: remind this many working days before the deadline (REMINDER_WORKDAYS)."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.staff.models import User
    from portal.staff.scope import can

    rows = db.session.scalars(
        select(Submission)
        .where(Submission.assignee_id.is_not(None), Submission.status.in_(OPEN_STATUSES))
        .order_by(Submission.reply_due_on.nulls_last(), Submission.id)
    )
    digests: dict[int, Digest] = {}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.active.is_(True)))}
    for submission in rows:
        user = users.get(submission.assignee_id or 0)
        if user is None or not can(submission.office_id, user=user):
            continue
        digest = digests.setdefault(user.id, Digest(user))
        state = deadline_state(submission.status, submission.reply_due_on, today, calendar, soon)
        {"overdue": digest.overdue, "due_soon": digest.due_soon}.get(
            state or "", digest.open
        ).append(submission)
        if submission.status in RAISED_STATUSES:
            digest.raised.append(submission)
        if state == "due_soon" and submission.reply_due_on == today:
            digest.due_today.append(submission)
    return [digests[k] for k in sorted(digests)]


def send_digests(
    today: date | None = None, calendar: WorkCalendar | None = None, *, force: bool = False
) -> list[Digest]:
    """Enqueue one mail per assignee through the outbox and commit; returns those enqueued.

    A user already sent today's digest is skipped unless ``force``.
    """
    from flask import current_app, render_template
    from sqlalchemy import select

    from portal import audit
    from portal.extensions import db
    from portal.outbox import enqueue
    from portal.triage.models import DigestSent

    today = today or local_today()
    calendar = calendar or WorkCalendar.from_config(current_app.config)
    sent: list[Digest] = []
    soon = int(current_app.config.get("REMINDER_WORKDAYS", DUE_SOON_WORKDAYS))
    for digest in build_digests(today, calendar, soon):
        already = db.session.scalar(
            select(DigestSent).where(DigestSent.user_id == digest.user.id, DigestSent.day == today)
        )
        if already is not None and not force:
            continue
        context = _digest_context(digest, today, calendar)
        message = enqueue(
            to=digest.user.email,
            subject=f"[每日待办] {today.isoformat()} 逾期{len(digest.overdue)}件，"
            f"即将到期{len(digest.due_soon)}件，在办{len(digest.open)}件"
            + (f"，新追问/重办{len(digest.raised)}件" if digest.raised else ""),
            text=render_template("triage/digest.txt", **context),
            kind="digest",
        )
        if already is None:
            db.session.add(DigestSent(user_id=digest.user.id, day=today, outbox_id=message.id))
        audit.record(
            "triage.digest",
            object_type="user",
            object_id=digest.user.id,
            details={"day": today.isoformat(), "total": digest.total},
            actor="cli",
        )
        sent.append(digest)
    db.session.commit()
    return sent


def _digest_context(digest: Digest, today: date, calendar: WorkCalendar) -> dict[str, Any]:
    from flask import current_app

    from portal.offices.service import letter_identity
    from portal.triage.workflow import label as workflow_label

    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")

    items = [*digest.overdue, *digest.due_soon, *digest.open]
    names = list(dict.fromkeys(letter_identity(s.office)["office_name"] for s in items))

    def lines(items: Sequence[Submission]) -> list[dict[str, Any]]:
        return [
            {
                "code": s.code,
                "office": letter_identity(s.office)["office_name"] if len(names) > 1 else "",
                "subject": (s.subject or s.body or "")[:40].replace("\n", " "),
                "due": s.reply_due_on.isoformat() if s.reply_due_on else "—",
                "late_days": workdays_overdue(s.reply_due_on, today, calendar)
                if s.reply_due_on and s.reply_due_on < today
                else 0,
                "url": f"{base}/staff/submissions/{s.code}",
            }
            for s in items
        ]

    return {
        "user": digest.user,
        "today": today,
        "overdue": lines(digest.overdue),
        "due_soon": lines(digest.due_soon),
        "open": lines(digest.open),
        "raised": lines(digest.raised),
        "due_today": lines(digest.due_today),
        "soon": int(current_app.config.get("REMINDER_WORKDAYS", DUE_SOON_WORKDAYS)),
        "status_label": {s.code: workflow_label(s.status) for s in items},
        "office_name": "、".join(names),
    }
