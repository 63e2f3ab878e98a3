"""The staff queue: filters, counts per status, keyset pages, saved views.

Pages are keyset pages on (received_at, id) newest first, or (reply_due_on, id) soonest first:
the next page starts after the last row of this one, so page 5,000 costs what page 1 costs
(no OFFSET). A cursor is "<value>~<id>" taken from that last row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import Select, and_, exists, func, or_, select, tuple_
from sqlalchemy.orm import selectinload

from portal.caching import notice_cache
from portal.extensions import db
from portal.intake.models import CHANNELS, Attachment, Submission, SubmissionFinding
from portal.notices.models import Finding
from portal.triage import search
from portal.triage.models import SavedView
from portal.triage.workflow import OPEN_STATUSES, STATUSES
from portal.workdays import local_midnight_utc

PAGE_SIZE = 50
SORTS = ("received", "due")
COUNTS_CACHE = "queue_counts"
COUNTS_KEPT = 512  # filters whose counts are kept at once


class BadFilter(ValueError):
    pass


@dataclass(frozen=True)
class QueueFilter:
    notice: int | None = None
    finding: int | None = None
    category: int | None = None
    channel: str | None = None
    statuses: tuple[str, ...] = ()
    assignee: str | None = None  # a user id, "me" or "none"
    received_from: date | None = None
    received_to: date | None = None
    overdue: bool = False
    late: bool = False
    attachments: bool = False
    q: str = ""
    sort: str = "received"
    after: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The filter as query-string arguments (without the cursor unless changed)."""
        target = replace(self, after=None, **changes)
        args: list[tuple[str, Any]] = []
        for name in ("notice", "finding", "category", "channel", "assignee"):
            value = getattr(target, name)
            if value not in (None, ""):
                args.append((name, value))
        args += [("status", s) for s in target.statuses]
        if target.received_from:
            args.append(("from", target.received_from.isoformat()))
        if target.received_to:
            args.append(("to", target.received_to.isoformat()))
        for flag in ("overdue", "late", "attachments"):
            if getattr(target, flag):
                args.append((flag, "1"))
        if target.q:
            args.append(("q", target.q))
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
    return QueueFilter(
        notice=_int(args.get("notice"), "notice"),
        finding=_int(args.get("finding"), "finding"),
        category=_int(args.get("category"), "category"),
        channel=channel,
        statuses=statuses,
        assignee=assignee,
        received_from=_date(args.get("from"), "from"),
        received_to=_date(args.get("to"), "to"),
        overdue=_flag(args.get("overdue")),
        late=_flag(args.get("late")),
        attachments=_flag(args.get("attachments")),
        q="".join(ch for ch in (args.get("q") or "") if ch.isprintable()).strip()[:200],
        sort=sort,
        after=after,
    )


# --- conditions -----------------------------------------------------------------------------


def conditions(
    f: QueueFilter, *, user_id: int | None, today: date, dialect: str, with_status: bool = True
) -> list[Any]:
    """WHERE conditions for the filter (status optional: counts per status leave it out)."""
    where: list[Any] = []
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
        where.append(and_(Submission.status.in_(OPEN_STATUSES), Submission.reply_due_on < today))
    if f.late:
        where.append(Submission.late.is_(True))
    if f.attachments:
        where.append(exists().where(Attachment.submission_id == Submission.id))
    if f.q:
        condition = search.search_condition(f.q, dialect)
        if condition is not None:
            where.append(condition)
    return where


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
                stmt = stmt.where(or_(tuple_(due, Submission.id) > (value, ident), due.is_(None)))
        return stmt
    stmt = stmt.order_by(Submission.received_at.desc(), Submission.id.desc())
    if f.after:
        moment, ident = decode_cursor(f.after, "received")
        # A row-value comparison (SQLite 3.15+, PostgreSQL) lets the planner walk the
        # (received_at, id) index from the cursor; the spelled-out OR form defeats it.
        stmt = stmt.where(tuple_(Submission.received_at, Submission.id) < (moment, ident))
    return stmt


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
    size: int = PAGE_SIZE,
    with_counts: bool = True,
) -> Page:
    dialect = db.session.get_bind().dialect.name
    where = conditions(f, user_id=user_id, today=today, dialect=dialect)
    stmt = _keyset(select(Submission).where(*where), f).limit(size + 1)
    stmt = stmt.options(
        selectinload(Submission.finding_links).selectinload(SubmissionFinding.finding),
        selectinload(Submission.attachments),
    )
    rows = list(db.session.scalars(stmt))
    next_cursor = encode_cursor(rows[size - 1], f.sort) if len(rows) > size else None
    counts: dict[str, int] = {}
    if with_counts:
        counts = _cached_counts(f, user_id=user_id, today=today, dialect=dialect)
    total = sum(counts.get(s, 0) for s in (f.statuses or counts))
    return Page(rows[:size], next_cursor, counts, total)


def _cached_counts(
    f: QueueFilter, *, user_id: int | None, today: date, dialect: str
) -> dict[str, int]:
    """Counts per status for the filter, kept QUEUE_COUNTS_TTL seconds per app.

    A GROUP BY over a million rows costs ~100 ms on PostgreSQL, more than the page itself;
    counts a few seconds old are fine in the queue's header, the rows never are."""
    key = (replace(f, after=None, statuses=(), sort="received"), user_id, today)
    counts: dict[str, int] = notice_cache(COUNTS_CACHE, max_entries=COUNTS_KEPT).get_or_make(
        key,
        lambda: status_counts(
            conditions(f, user_id=user_id, today=today, dialect=dialect, with_status=False)
        ),
        max_age=current_app.config["QUEUE_COUNTS_TTL"],
    )
    return counts


def status_counts(where: Sequence[Any]) -> dict[str, int]:
    rows = db.session.execute(
        select(Submission.status, func.count()).where(*where).group_by(Submission.status)
    )
    return {status: count for status, count in rows}


def ids_matching(ids: Sequence[int]) -> list[Submission]:
    if not ids:
        return []
    return list(db.session.scalars(select(Submission).where(Submission.id.in_(ids))))


# --- saved views ----------------------------------------------------------------------------


def saved_views(user_id: int) -> list[SavedView]:
    return list(
        db.session.scalars(
            select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name)
        )
    )


def save_view(user_id: int, name: str, f: QueueFilter) -> SavedView:
    """Create or overwrite the user's view called ``name`` (no commit)."""
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:80]
    if not name:
        raise BadFilter("name")
    view = db.session.scalar(
        select(SavedView).where(SavedView.user_id == user_id, SavedView.name == name)
    )
    if view is None:
        view = SavedView(user_id=user_id, name=name, query="")
        db.session.add(view)
    view.query = f.query_string()[:2000]
    db.session.flush()
    return view
