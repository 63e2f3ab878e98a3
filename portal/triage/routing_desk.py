"""The routing desk: submissions no office answers yet (office_id IS NULL), and routing them.

A submission is unrouted when it came in without a notice through a channel no office owns (a
shared mailbox whose words did not settle the office, a letter logged by the inspection office).
The inspection office (supervisor) or an admin reads it with the offices the finding Routers
suggest (office_guess) and routes it: the office, and its notice when one was chosen. Routing
applies that office's deadlines from the day the opinion was received and is an audit event
(``submission.route``: who, from, to). A supervisor routes only unrouted submissions; an admin
may also move a routed one. Functions write in the caller's transaction and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, tuple_, update

from portal import audit
from portal.extensions import db
from portal.intake.mail.models import MailMessage
from portal.intake.models import Submission
from portal.notices.models import Notice
from portal.offices.models import Office
from portal.staff.models import User
from portal.triage import office_guess, queue
from portal.triage.deadlines import due_dates
from portal.triage.findings import submission_text
from portal.workdays import WorkCalendar, local_date

DESK_PAGE = 20  # rows a page: each row runs every notice's Router
SHOWN = 3  # suggestions shown a row


class RouteError(ValueError):
    """The submission cannot be routed so; the message is for staff (Chinese)."""


@dataclass(frozen=True)
class DeskRow:
    submission: Submission
    suggestions: list[office_guess.Candidate]


@dataclass(frozen=True)
class DeskPage:
    rows: list[DeskRow]
    next_cursor: str | None


def unrouted(
    after: str | None = None, size: int = DESK_PAGE
) -> tuple[list[Submission], str | None]:
    """Unrouted submissions, the longest waiting first (keyset on received_at, id)."""
    query = select(Submission).where(Submission.office_id.is_(None))
    if after:
        moment, ident = queue.decode_cursor(after, "received")  # BadFilter on nonsense
        query = query.where(tuple_(Submission.received_at, Submission.id) > (moment, ident))
    query = query.order_by(Submission.received_at, Submission.id).limit(size + 1)
    rows = list(db.session.scalars(query))
    cursor = queue.encode_cursor(rows[size - 1], "received") if len(rows) > size else None
    return rows[:size], cursor


def desk_page(round_id: int | None, after: str | None = None, size: int = DESK_PAGE) -> DeskPage:
    """One page of the desk with each row's best offices (one suggestion per office)."""
    rows, cursor = unrouted(after, size)
    routers = office_guess.routers_of(office_guess.round_notices(round_id)) if rows else []
    return DeskPage(
        [
            DeskRow(
                submission,
                office_guess.best_by_office(
                    office_guess.candidates(
                        submission_text(submission.subject, submission.body), routers
                    )
                )[:SHOWN],
            )
            for submission in rows
        ],
        cursor,
    )


def _target_notice(office: Office, notice_id: int | None) -> Notice | None:
    if notice_id is None:
        return None
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.office_id != office.id:
        raise RouteError("所选公示不属于该单位。")
    return notice


def route(
    submission: Submission, office: Office | None, *, notice_id: int | None = None, user: User
) -> None:
    """Give ``submission`` to ``office`` (and one of its notices); RouteError when refused."""
    if office is None or not office.active:
        raise RouteError("请选择一个在用的单位。")
    if submission.office_id is not None and user.role != "admin":
        raise RouteError("该意见已分办，不能再改。")
    if submission.office_id == office.id:
        raise RouteError("该意见已由此单位办理。")
    notice = _target_notice(office, notice_id)
    previous = submission.office_id
    submission.office = office
    if notice is not None:
        submission.notice = notice
    elif submission.notice is not None and submission.notice.office_id != office.id:
        submission.notice = None  # never left pointing at another office's notice
    # The raw mail follows its submission: the new office's staff handle its quarantine copy,
    # the old one's lose sight of it.
    db.session.execute(
        update(MailMessage)
        .where(MailMessage.submission_id == submission.id)
        .values(office_id=office.id)
    )
    calendar = WorkCalendar.from_config(current_app.config)
    submission.ack_due_on, submission.reply_due_on = due_dates(
        office, local_date(submission.received_at), calendar
    )
    db.session.flush()
    audit.record(
        "submission.route",
        object_type="submission",
        object_id=submission.id,
        details={
            "code": submission.code,
            "from": previous,
            "to": office.id,
            "office": office.slug,
            "office_name": office.name,
            "notice": notice.slug if notice is not None else None,
        },
        actor=user.actor,
    )
