"""The staff queue: filters, counts per status, keyset pages (saved views: queue_saved.py).

Pages are keyset pages on (received_at, id) newest first, or (reply_due_on, id) soonest first:
the next page starts after the last row of this one, so page 5,000 costs what page 1 costs
(no OFFSET). A cursor is "<value>~<id>" taken from that last row.

Every listing and count is limited to the offices the staff member may read (``offices``, from
portal.staff.scope.visible_office_ids; None = every office and the unrouted rows). For a
one-office triager that is ``office_id IN (<id>)``, which walks the (office_id, received_at, id)
or (office_id, reply_due_on, id) index from the cursor. The ``office`` filter narrows further,
but only to an office the user may read (``check_office``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, select, tuple_
from sqlalchemy.orm import selectinload

from portal.caching import notice_cache
from portal.extensions import db
from portal.intake.models import CHANNELS, Attachment, Submission, SubmissionFinding
from portal.notices.models import Finding
from portal.triage import search
from portal.triage.deadlines import DUE_SOON_WORKDAYS
from portal.triage.workflow import OPEN_STATUSES, STATUSES
from portal.workdays import WorkCalendar, local_midnight_utc

PAGE_SIZE = 50
SORTS = ("received", "due")
COUNTS_CACHE = "queue_counts"
COUNTS_KEPT = 512  # filters whose counts are kept at once
# Open but not on the clock: the office waits for the submitter (等待补充), so never overdue.
PAUSED_STATUSES = frozenset({"waiting"})
RUNNING_STATUSES = OPEN_STATUSES - PAUSED_STATUSES
MAX_CAMPAIGN_CODE = 40


# The offices a queue reads: ids, or None for every office and the unrouted submissions.
Offices = frozenset[int] | None


class BadFilter(ValueError):
    pass


@dataclass(frozen=True)
class QueueFilter:
    office: int | None = None
    notice: int | None = None
    finding: int | None = None
    category: int | None = None
    channel: str | None = None
    statuses: tuple[str, ...] = ()
    assignee: str | None = None  # a user id, "me" or "none"
    received_from: date | None = None
    received_to: date | None = None
    overdue: bool = False
    due_soon: bool = False
    late: bool = False
    attachments: bool = False
    q: str = ""
    # A campaign (集中反映): the opinion of this code and its similar ones (duplicates.py);
    # ``codes`` is what the view resolved it to, within the user's offices.
    campaign: str | None = None
    codes: tuple[str, ...] | None = None
    sort: str = "received"
    after: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The filter as query-string arguments (without the cursor unless changed)."""
        target = replace(self, **{"after": None, **changes})
        args: list[tuple[str, Any]] = []
        for name in ("office", "notice", "finding", "category", "channel", "assignee"):
            value = getattr(target, name)
            if value not in (None, ""):
                args.append((name, value))
        args += [("status", s) for s in target.statuses]
        if target.received_from:
            args.append(("from", target.received_from.isoformat()))
        if target.received_to:
            args.append(("to", target.received_to.isoformat()))
        for flag in ("overdue", "due_soon", "late", "attachments"):
            if getattr(target, flag):
                args.append((flag, "1"))
        if target.q:
            args.append(("q", target.q))
        if target.campaign:
            args.append(("campaign", target.campaign))
        if target.sort != "received":
            args.append(("sort", target.sort))
        if target.after:
            args.append(("after", target.after))
        return dict(_group(args))

    def query_string(self, **changes: Any) -> str:
        return urlencode(self.query_args(**changes), doseq=True)


def _group(args: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    grouped: dict[str, Any] = {}
    for key, value in args:
        if key in grouped:
            existing = grouped[key]
            grouped[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            grouped[key] = value
    return grouped


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise BadFilter(name) from exc


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadFilter(name) from exc


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "on", "yes")


def parse_filter(args: Mapping[str, Any]) -> QueueFilter:
    """A QueueFilter from request.args (a MultiDict) or a plain mapping; BadFilter on nonsense."""
    getlist = getattr(args, "getlist", None)
    statuses = tuple(
        getlist("status") if getlist else ([args["status"]] if "status" in args else [])
    )
    statuses = tuple(dict.fromkeys(s for s in statuses if s))
    if any(s not in STATUSES for s in statuses):
        raise BadFilter("status")
    channel = args.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        raise BadFilter("channel")
    assignee = args.get("assignee") or None
    if assignee not in (None, "me", "none"):
        _int(assignee, "assignee")
    sort = args.get("sort") or "received"
    if sort not in SORTS:
        raise BadFilter("sort")
    after = args.get("after") or None
    if after is not None:
        decode_cursor(after, sort)
    campaign = (args.get("campaign") or "").strip() or None
    if campaign is not None and (len(campaign) > MAX_CAMPAIGN_CODE or not campaign.isprintable()):
        raise BadFilter("campaign")
    return QueueFilter(
        office=_int(args.get("office"), "office"),
        notice=_int(args.get("notice"), "notice"),
        finding=_int(args.get("finding"), "finding"),
        category=_int(args.get("category"), "category"),
        channel=channel,
        statuses=statuses,
        assignee=assignee,
        received_from=_date(args.get("from"), "from"),
        received_to=_date(args.get("to"), "to"),
        overdue=_flag(args.get("overdue")),
        due_soon=_flag(args.get("due_soon")),
        late=_flag(args.get("late")),
        attachments=_flag(args.get("attachments")),
        q="".join(ch for ch in (args.get("q") or "") if ch.isprintable()).strip()[:200],
        sort=sort,
        after=after,
        campaign=campaign,
    )


def check_office(f: QueueFilter, readable: Collection[int]) -> None:
    """BadFilter when the filter names an office outside ``readable`` (the ids of the offices
    the user may read): refused, not answered with an empty page that confirms nothing."""
    if f.office is not None and f.office not in readable:
        raise BadFilter("office")


# --- conditions -----------------------------------------------------------------------------


def in_offices(offices: Offices) -> ColumnElement[bool] | None:
    """The scope as a condition (None: no condition, every office and the unrouted rows)."""
    if offices is None:
        return None
    if not offices:
        return false()
    return Submission.office_id.in_(sorted(offices))


def conditions(
    f: QueueFilter,
    *,
    user_id: int | None,
    today: date,
    dialect: str,
    with_status: bool = True,
    offices: Offices = None,
) -> list[Any]:
    """WHERE conditions for the filter within ``offices`` (status optional: counts per status
    leave it out)."""
    where: list[Any] = []
    scope = in_offices(offices)
    if scope is not None:
        where.append(scope)
    if f.office is not None:
        where.append(Submission.office_id == f.office)
    if f.notice is not None:
        where.append(Submission.notice_id == f.notice)
    if f.finding is not None:
        where.append(
            exists().where(
                SubmissionFinding.submission_id == Submission.id,
                SubmissionFinding.finding_id == f.finding,
            )
        )
    if f.category is not None:
        where.append(
            exists().where(
                SubmissionFinding.submission_id == Submission.id,
                SubmissionFinding.finding_id == Finding.id,
                Finding.category_id == f.category,
            )
        )
    if f.channel:
        where.append(Submission.channel == f.channel)
    if with_status and f.statuses:
        where.append(Submission.status.in_(f.statuses))
    if f.assignee == "none":
        where.append(Submission.assignee_id.is_(None))
    elif f.assignee == "me":
        where.append(Submission.assignee_id == (user_id or -1))
    elif f.assignee:
        where.append(Submission.assignee_id == int(f.assignee))
    if f.received_from:
        where.append(Submission.received_at >= local_midnight_utc(f.received_from))
    if f.received_to:
        where.append(Submission.received_at < local_midnight_utc(f.received_to + timedelta(days=1)))
    if f.overdue:
        where.append(and_(Submission.status.in_(RUNNING_STATUSES), Submission.reply_due_on < today))
    if f.due_soon:
        where.append(
            and_(
                Submission.status.in_(RUNNING_STATUSES),
                Submission.reply_due_on >= today,
                Submission.reply_due_on < soon_limit(today),
            )
        )
    if f.codes is not None:
        where.append(Submission.code.in_(f.codes) if f.codes else false())
    if f.late:
        where.append(Submission.late.is_(True))
    if f.attachments:
        where.append(exists().where(Attachment.submission_id == Submission.id))
    if f.q:
        condition = search.search_condition(f.q, dialect)
        if condition is not None:
            where.append(condition)
    return where


def soon_limit(today: date) -> date:
    """The first reply date that is no longer "due soon" (deadlines.deadline_state: due within
    DUE_SOON_WORKDAYS working days)."""
    calendar = WorkCalendar.from_config(current_app.config)
    return calendar.add_workdays(today, DUE_SOON_WORKDAYS + 1)


# --- keyset pages ---------------------------------------------------------------------------


def encode_cursor(submission: Submission, sort: str) -> str:
    if sort == "due":
        value = submission.reply_due_on.isoformat() if submission.reply_due_on else "-"
    else:
        moment = submission.received_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        value = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{value}~{submission.id}"


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        value, _, raw_id = cursor.rpartition("~")
        ident = int(raw_id)
        if sort == "due":
            return (None if value == "-" else date.fromisoformat(value)), ident
        moment = datetime.strptime(value, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise BadFilter("after") from exc
    return moment, ident


def _keyset(stmt: Select[Any], f: QueueFilter) -> Select[Any]:
    if f.sort == "due":
        due = Submission.reply_due_on
        stmt = stmt.order_by(due.asc().nulls_last(), Submission.id.asc())
        if f.after:
            value, ident = decode_cursor(f.after, "due")
            if value is None:  # already among the rows without a date (they come last)
                stmt = stmt.where(due.is_(None), Submission.id > ident)
            else:
                # Only dated rows: ``OR due IS NULL`` here would make PostgreSQL collect and
                # sort every later row. page() appends the dateless ones when these run out.
                stmt = stmt.where(tuple_(due, Submission.id) > (value, ident))
        return stmt
    stmt = stmt.order_by(Submission.received_at.desc(), Submission.id.desc())
    if f.after:
        moment, ident = decode_cursor(f.after, "received")
        # A row-value comparison (SQLite 3.15+, PostgreSQL) lets the planner walk the
        # (received_at, id) index from the cursor; the spelled-out OR form defeats it.
        stmt = stmt.where(tuple_(Submission.received_at, Submission.id) < (moment, ident))
    return stmt


def _after_a_date(f: QueueFilter) -> bool:
    return f.sort == "due" and f.after is not None and decode_cursor(f.after, "due")[0] is not None


def rows_statement(
    f: QueueFilter, *, user_id: int | None, today: date, offices: Offices, size: int = PAGE_SIZE
) -> Select[Any]:
    """The SELECT of one page (one row more than ``size``: is there a next page?)."""
    dialect = db.session.get_bind().dialect.name
    where = conditions(f, user_id=user_id, today=today, dialect=dialect, offices=offices)
    return _keyset(select(Submission).where(*where), f).limit(size + 1)


@dataclass
class Page:
    rows: list[Submission]
    next_cursor: str | None
    counts: dict[str, int]
    total: int


def page(
    f: QueueFilter,
    *,
    user_id: int | None,
    today: date,
    offices: Offices = None,
    size: int = PAGE_SIZE,
    with_counts: bool = True,
) -> Page:
    """One page of the queue within ``offices`` (None: every office, unrouted included)."""
    dialect = db.session.get_bind().dialect.name
    loads = (
        selectinload(Submission.finding_links).selectinload(SubmissionFinding.finding),
        selectinload(Submission.attachments),
    )
    stmt = rows_statement(f, user_id=user_id, today=today, offices=offices, size=size)
    rows: list[Submission] = list(db.session.scalars(stmt.options(*loads)))
    if len(rows) <= size and _after_a_date(f):  # the dated rows ran out: the dateless follow
        where = conditions(f, user_id=user_id, today=today, dialect=dialect, offices=offices)
        dateless = (
            select(Submission)
            .where(*where, Submission.reply_due_on.is_(None))
            .order_by(Submission.id)
            .limit(size + 1 - len(rows))
        )
        rows += db.session.scalars(dateless.options(*loads))
    next_cursor = encode_cursor(rows[size - 1], f.sort) if len(rows) > size else None
    counts: dict[str, int] = {}
    if with_counts:
        counts = _cached_counts(f, user_id=user_id, today=today, dialect=dialect, offices=offices)
    total = sum(counts.get(s, 0) for s in (f.statuses or counts))
    return Page(rows[:size], next_cursor, counts, total)


def _cached_counts(
    f: QueueFilter, *, user_id: int | None, today: date, dialect: str, offices: Offices
) -> dict[str, int]:
    """Counts per status for the filter, kept QUEUE_COUNTS_TTL seconds per app.

    A GROUP BY over a million rows costs ~100 ms on PostgreSQL, more than the page itself;
    counts a few seconds old are fine in the queue's header, the rows never are. The key holds
    the scope: users of two offices never share a count."""
    key = (replace(f, after=None, statuses=(), sort="received"), user_id, today, offices)
    counts: dict[str, int] = notice_cache(COUNTS_CACHE, max_entries=COUNTS_KEPT).get_or_make(
        key,
        lambda: status_counts(
            conditions(
                f,
                user_id=user_id,
                today=today,
                dialect=dialect,
                with_status=False,
                offices=offices,
            )
        ),
        max_age=current_app.config["QUEUE_COUNTS_TTL"],
    )
    return counts


def status_counts(where: Sequence[Any]) -> dict[str, int]:
    rows = db.session.execute(
        select(Submission.status, func.count()).where(*where).group_by(Submission.status)
    )
    return {status: count for status, count in rows}


def ids_matching(ids: Sequence[int], offices: Offices = None) -> list[Submission]:
    """The submissions among ``ids`` within ``offices``; others are left out unannounced."""
    if not ids:
        return []
    where: list[ColumnElement[bool]] = [Submission.id.in_(ids)]
    scope = in_offices(offices)
    if scope is not None:
        where.append(scope)
    return list(db.session.scalars(select(Submission).where(*where).order_by(Submission.id)))
