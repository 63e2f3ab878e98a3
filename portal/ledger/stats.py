"""Ledger statistics: per finding, channel, status and week; days to reply.

Definitions (the ledger, the dashboard and the public block all use these):
- a submission counts for a finding when the submitter chose it, staff linked it, or staff
  confirmed a suggestion (an unconfirmed suggestion does not count);
- received: linked submissions except spam;
- answered at: the first reply, or the first change to "replied" (a reply given by phone);
- days to reply: local (Asia/Shanghai) calendar days from receipt to answer; the median is
  computed exactly from a histogram of whole days, so one GROUP BY query is enough;
- overdue: not answered, still open, and its reply due date is before today.

The SQL is written for SQLite and PostgreSQL alike; the aggregation helpers are pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from portal.extensions import db
from portal.intake.models import Submission, SubmissionFinding
from portal.notices.models import Finding, Notice
from portal.triage.models import Reply, StatusChange
from portal.triage.workflow import OPEN_STATUSES
from portal.workdays import local_midnight_utc, local_today

LOCAL_OFFSET_HOURS = 8  # Asia/Shanghai has kept UTC+8 all year since 1991
NO_FINDING = 0  # the bucket of submissions linked to no finding


# --- pure aggregation --------------------------------------------------------------------------


def median_from_histogram(histogram: Mapping[int, int]) -> float | None:
    """Median of a multiset given as {value: count}; None when empty."""
    total = sum(c for c in histogram.values() if c > 0)
    if total == 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    lower = upper = None
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        if count <= 0:
            continue
        if lower is None and seen + count > lower_rank:
            lower = value
        if seen + count > upper_rank:
            upper = value
            break
        seen += count
    assert lower is not None and upper is not None
    return (lower + upper) / 2


@dataclass
class FindingStats:
    finding_id: int  # NO_FINDING for submissions linked to none
    number: int | None
    title: str
    received: int = 0
    replied: int = 0
    overdue: int = 0
    median_days: float | None = None

    @property
    def replied_share(self) -> float | None:
        return self.replied / self.received if self.received else None


def fold_finding_rows(
    rows: Iterable[tuple[int, int | None, bool, int]],
    findings: Sequence[tuple[int, int | None, str]],
) -> list[FindingStats]:
    """rows: (finding id, days to reply or None, overdue, count) from finding_histogram();
    findings: (id, number, title) in display order. Every finding gets a row, zeros too."""
    by_id = {fid: FindingStats(fid, number, title) for fid, number, title in findings}
    histograms: dict[int, Counter[int]] = {}
    for finding_id, days, overdue, count in rows:
        stats = by_id.get(finding_id)
        if stats is None:
            stats = by_id[finding_id] = FindingStats(finding_id, None, "")
        stats.received += count
        if days is not None:
            stats.replied += count
            histograms.setdefault(finding_id, Counter())[max(0, int(days))] += count
        elif overdue:
            stats.overdue += count
    for finding_id, histogram in histograms.items():
        by_id[finding_id].median_days = median_from_histogram(histogram)
    return list(by_id.values())


def fold_weeks(day_counts: Iterable[tuple[date, int]]) -> list[tuple[date, int]]:
    """Daily counts -> (Monday, count) for every week from the first to the last, gaps as 0."""
    weeks: Counter[date] = Counter()
    for day, count in day_counts:
        weeks[day - timedelta(days=day.weekday())] += count
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    return [
        (first + timedelta(weeks=i), weeks[first + timedelta(weeks=i)])
        for i in range((last - first).days // 7 + 1)
    ]


# --- filters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilter:
    """Which submissions a ledger view covers: a notice and/or received local dates (inclusive),
    the offices whose submissions count (None: every office and the unrouted ones; staff pages
    pass the reader's offices) and an inspection round (through each submission's notice)."""

    notice_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    office_ids: tuple[int, ...] | None = None
    round_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.office_ids is not None:
            out.append(Submission.office_id.in_(self.office_ids) if self.office_ids else false())
        if self.round_id is not None:
            in_round = select(Notice.id).where(Notice.round_id == self.round_id)
            out.append(Submission.notice_id.in_(in_round))
        if self.notice_id is not None:
            out.append(Submission.notice_id == self.notice_id)
        if self.date_from is not None:
            out.append(Submission.received_at >= local_midnight_utc(self.date_from))
        if self.date_to is not None:
            end = local_midnight_utc(self.date_to + timedelta(days=1))
            out.append(Submission.received_at < end)
        return out


def finding_conditions(ledger: LedgerFilter) -> list[ColumnElement[bool]]:
    """The findings a filtered view lists: those of the notices of its offices and round."""
    notices = select(Notice.id)
    if ledger.office_ids is not None:
        notices = notices.where(Notice.office_id.in_(ledger.office_ids))
    if ledger.round_id is not None:
        notices = notices.where(Notice.round_id == ledger.round_id)
    if ledger.office_ids is None and ledger.round_id is None:
        return []
    return [Finding.notice_id.in_(notices)]


def counted_link() -> ColumnElement[bool]:
    return or_(
        SubmissionFinding.source.in_(("submitter", "staff")),
        and_(SubmissionFinding.source == "suggested", SubmissionFinding.confirmed.is_(True)),
    )


# --- SQL building blocks -------------------------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def local_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The Asia/Shanghai calendar day of a UTC timestamp column."""
    if dialect == "postgresql":
        return cast(func.timezone("Asia/Shanghai", column), Date)
    return func.date(column, f"+{LOCAL_OFFSET_HOURS} hours")


def day_difference(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return local_day(later, dialect) - local_day(earlier, dialect)
    return cast(
        func.julianday(local_day(later, dialect)) - func.julianday(local_day(earlier, dialect)),
        Integer,
    )


def answered_at_subquery() -> Any:
    """(submission_id, answered_at): first reply or first change to "replied"."""
    moments = union_all(
        select(Reply.submission_id.label("sid"), Reply.created_at.label("at")),
        select(StatusChange.submission_id.label("sid"), StatusChange.at.label("at")).where(
            StatusChange.new == "replied"
        ),
    ).subquery()
    return (
        select(moments.c.sid.label("submission_id"), func.min(moments.c.at).label("answered_at"))
        .group_by(moments.c.sid)
        .subquery("answered")
    )


def first_answer(within: Any = None) -> tuple[Any, Any, ColumnElement[Any]]:
    """(first reply per submission, first change to "replied" per submission, the earlier of
    the two: the answered-at moment) as two subqueries to outer-join on their ``sid``.

    Two GROUP BYs rather than one over a UNION: PostgreSQL streams each over its submission_id
    index, where it misestimates the UNION's groups and spills to disk. ``within`` (a select of
    submission ids) narrows both to the submissions a report covers, through those indexes."""
    reply = select(Reply.submission_id.label("sid"), func.min(Reply.created_at).label("at"))
    change = select(
        StatusChange.submission_id.label("sid"), func.min(StatusChange.at).label("at")
    ).where(StatusChange.new == "replied")
    if within is not None:
        reply = reply.where(Reply.submission_id.in_(within))
        change = change.where(StatusChange.submission_id.in_(within))
    first_reply = reply.group_by(Reply.submission_id).subquery("first_reply")
    first_replied = change.group_by(StatusChange.submission_id).subquery("first_replied")
    earlier = case(
        (first_reply.c.at.is_(None), first_replied.c.at),
        (first_replied.c.at.is_(None), first_reply.c.at),
        (first_reply.c.at <= first_replied.c.at, first_reply.c.at),
        else_=first_replied.c.at,
    )
    return first_reply, first_replied, earlier


def _overdue(answered_at: Any, today: date) -> ColumnElement[Any]:
    return case(
        (
            and_(
                answered_at.is_(None),
                Submission.status.in_(sorted(OPEN_STATUSES)),
                Submission.reply_due_on < today,
            ),
            literal(1),
        ),
        else_=literal(0),
    )


# --- queries -------------------------------------------------------------------------------------


def finding_histogram(
    ledger: LedgerFilter, today: date | None = None
) -> list[tuple[int, int | None, bool, int]]:
    """ONE grouped query: (finding id or NO_FINDING, days to reply or None, overdue, count)."""
    dialect = _dialect()
    today = today or local_today()
    answered = answered_at_subquery()
    days = day_difference(answered.c.answered_at, Submission.received_at, dialect)
    overdue = _overdue(answered.c.answered_at, today)
    link = (
        select(SubmissionFinding.submission_id, SubmissionFinding.finding_id)
        .where(counted_link())
        .subquery("link")
    )
    finding_id = func.coalesce(link.c.finding_id, literal(NO_FINDING))
    stmt = (
        select(finding_id, days, overdue, func.count())
        .select_from(Submission)
        .outerjoin(link, link.c.submission_id == Submission.id)
        .outerjoin(answered, answered.c.submission_id == Submission.id)
        .where(Submission.status != "spam", *ledger.conditions())
        .group_by(finding_id, days, overdue)
    )
    return [(r[0], r[1], bool(r[2]), r[3]) for r in db.session.execute(stmt)]


def finding_stats(
    ledger: LedgerFilter, *, today: date | None = None, include_unlinked: bool = True
) -> list[FindingStats]:
    """Per finding of the filtered notice (or of every notice), in notice order."""
    finding_query = select(Finding.id, Finding.number, Finding.title).order_by(
        Finding.notice_id, Finding.number
    )
    if ledger.notice_id is not None:
        finding_query = finding_query.where(Finding.notice_id == ledger.notice_id)
    finding_query = finding_query.where(*finding_conditions(ledger))
    findings = [(r.id, r.number, r.title) for r in db.session.execute(finding_query)]
    if include_unlinked:
        findings.append((NO_FINDING, None, str(_l("未关联问题"))))
    rows = finding_histogram(ledger, today)
    if not include_unlinked:
        rows = [r for r in rows if r[0] != NO_FINDING]
    return fold_finding_rows(rows, findings)


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    received: int
    replied: int
    overdue: int


def channel_figures(ledger: LedgerFilter, today: date | None = None) -> list[ChannelFigures]:
    """Per channel, most received first: received, replied and overdue, spam left out (the
    per-finding figures' definitions). One grouped query."""
    today = today or local_today()
    answered = answered_at_subquery()
    overdue = _overdue(answered.c.answered_at, today)
    stmt = (
        select(
            Submission.channel,
            func.count(),
            func.count(answered.c.answered_at),
            func.coalesce(func.sum(overdue), 0),
        )
        .outerjoin(answered, answered.c.submission_id == Submission.id)
        .where(Submission.status != "spam", *ledger.conditions())
        .group_by(Submission.channel)
    )
    rows = [ChannelFigures(r[0], r[1], r[2], int(r[3])) for r in db.session.execute(stmt)]
    return sorted(rows, key=lambda f: (-f.received, f.channel))


def counts_by(column: Any, ledger: LedgerFilter) -> list[tuple[str, int]]:
    stmt = (
        select(column, func.count())
        .where(*ledger.conditions())
        .group_by(column)
        .order_by(func.count().desc(), column)
    )
    return [(str(value), count) for value, count in db.session.execute(stmt)]


def channel_counts(ledger: LedgerFilter) -> list[tuple[str, int]]:
    return counts_by(Submission.channel, ledger)


def status_counts(ledger: LedgerFilter) -> list[tuple[str, int]]:
    return counts_by(Submission.status, ledger)


def weekly_counts(ledger: LedgerFilter) -> list[tuple[date, int]]:
    day = local_day(Submission.received_at, _dialect())
    stmt = select(day, func.count()).where(*ledger.conditions()).group_by(day)
    return fold_weeks((date.fromisoformat(str(d)), c) for d, c in db.session.execute(stmt))


def public_notice_stats(notice_id: int) -> list[FindingStats]:
    """What the notice page shows: per finding counts, share replied, median days (no
    personal data; findings without opinions included so the table is complete)."""
    return finding_stats(LedgerFilter(notice_id=notice_id), include_unlinked=False)
