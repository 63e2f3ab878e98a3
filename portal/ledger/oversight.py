"""The supervisor's figures per office and round: computed into a snapshot, read by the page.

refresh_figures() runs three GROUP BY queries over every submission (11-14 s for a million
submissions on PostgreSQL on a busy 2-core machine, growing linearly) and replaces the snapshot
in one transaction; overview() and round_totals() read the snapshot (a few hundred rows), so the
page answers in tens of milliseconds whatever the number of submissions. `flask oversight
refresh` (cron) keeps it fresh; the page recomputes on demand when it is older than
OVERSIGHT_MAX_AGE, one worker at a time (a lease row): the others serve the snapshot they have.

Definitions (the ledger's, portal.ledger.stats): received leaves spam out; open is a status
that still needs the office; overdue is open, not answered and its reply due date before today
(Asia/Shanghai); answered in time: the first reply was sent (Asia/Shanghai date) on or before the
reply due date (no due date: in time). A submission belongs to a round through its notice; an
office's findings with most opinions are those of its own notices.
Satisfaction is left out on purpose: submitters cannot rate replies yet (issue #17 adds it).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, literal, or_, select

from portal import leases
from portal.extensions import db
from portal.intake.models import Submission, SubmissionFinding
from portal.ledger import stats
from portal.ledger.models import OfficeFigures, OversightLease
from portal.notices.models import Finding, FindingStatusChange, Notice
from portal.offices.models import Office
from portal.triage.workflow import OPEN_STATUSES
from portal.workdays import as_utc, local_today

LEASE_NAME = "oversight"
LEASE = timedelta(minutes=15)  # longer than a refresh at ten million rows takes
TOP_FINDINGS = 3
COUNTS = ("received", "open", "overdue", "answered", "answered_in_time")

Key = tuple[int | None, int | None]  # (office id or None: unrouted, round id or None: every round)


# --- the lease: one recomputation at a time ---------------------------------------------------


def acquire_lease(holder: str, lease: timedelta = LEASE) -> bool:
    """Take the recomputation lease if it is free or expired (portal.leases)."""
    return leases.acquire(OversightLease, LEASE_NAME, holder, lease)


def release_lease(holder: str) -> None:
    leases.release(OversightLease, LEASE_NAME, holder)


@contextmanager
def refresh_lease() -> Iterator[bool]:
    """Yields True to the one caller that holds the lease, False to the others."""
    holder = uuid.uuid4().hex
    if not acquire_lease(holder):
        yield False
        return
    try:
        yield True
    finally:
        release_lease(holder)


# --- computing ---------------------------------------------------------------------------------


@dataclass
class _Figures:
    counts: Counter[str] = field(default_factory=Counter)
    # (notice id, finding number, title) -> opinions
    findings: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    silent: list[str] = field(default_factory=list)


def _flag(condition: Any) -> Any:
    return func.sum(case((condition, literal(1)), else_=literal(0)))


def _count_rows(today: date) -> list[Any]:
    """(office, round, received, open, overdue, answered, in time): one grouped pass."""
    dialect = db.session.get_bind().dialect.name
    reply, change, answered_at = stats.first_answer()
    is_open = Submission.status.in_(sorted(OPEN_STATUSES))
    has_reply = or_(reply.c.at.is_not(None), change.c.at.is_not(None))
    in_time = and_(
        has_reply,
        Submission.reply_due_on.is_(None)
        | (stats.local_day(answered_at, dialect) <= Submission.reply_due_on),
    )
    overdue = and_(~has_reply, is_open, Submission.reply_due_on < today)
    stmt = (
        select(
            Submission.office_id,
            Notice.round_id,
            func.count(),
            _flag(is_open),
            _flag(overdue),
            _flag(has_reply),
            _flag(in_time),
        )
        .outerjoin(Notice, Notice.id == Submission.notice_id)
        .outerjoin(reply, reply.c.sid == Submission.id)
        .outerjoin(change, change.c.sid == Submission.id)
        .where(Submission.status != "spam")
        .group_by(Submission.office_id, Notice.round_id)
    )
    return list(db.session.execute(stmt))


def _finding_rows() -> list[Any]:
    """(office, round, notice id, finding number, title, opinions) per finding with opinions.

    An office's findings are those of its own notices. Spam is left out by an anti-join, not
    NOT IN: at ten million rows the spam ids no longer fit work_mem, and PostgreSQL then
    re-scans them per link (no finish after 19 minutes); NOT EXISTS is one hashed anti-join."""
    spam = exists().where(
        Submission.id == SubmissionFinding.submission_id, Submission.status == "spam"
    )
    opinions = (
        select(SubmissionFinding.finding_id, func.count().label("n"))
        .where(stats.counted_link(), ~spam)
        .group_by(SubmissionFinding.finding_id)
        .subquery()
    )
    stmt = (
        select(
            Notice.office_id,
            Notice.round_id,
            Finding.notice_id,
            Finding.number,
            Finding.title,
            opinions.c.n,
        )
        .join(Finding, Finding.id == opinions.c.finding_id)
        .join(Notice, Notice.id == Finding.notice_id)
    )
    return list(db.session.execute(stmt))


def _silent_notices() -> list[Any]:
    """Published notices none of whose findings changed status since publication."""
    changed = (
        select(literal(1))
        .select_from(FindingStatusChange)
        .join(Finding, Finding.id == FindingStatusChange.finding_id)
        .where(
            Finding.notice_id == Notice.id,
            FindingStatusChange.created_at >= Notice.published_at,
        )
    )
    stmt = (
        select(Notice.office_id, Notice.round_id, Notice.title)
        .where(Notice.state == "published", ~exists(changed))
        .order_by(Notice.office_id, Notice.published_at, Notice.id)
    )
    return list(db.session.execute(stmt))


def _keys_for(office_id: int | None, round_id: int | None) -> list[Key]:
    """The snapshot rows a group counts in: its round's row and the every-round row."""
    return [(office_id, None)] if round_id is None else [(office_id, round_id), (office_id, None)]


def compute_figures(today: date | None = None) -> dict[Key, _Figures]:
    today = today or local_today()
    figures: dict[Key, _Figures] = defaultdict(_Figures)
    # Every office has a row, and every office has one per round it has a notice in.
    for office_id in db.session.scalars(select(Office.id).where(Office.active.is_(True))):
        figures.setdefault((office_id, None), _Figures())
    pairs = select(Notice.office_id, Notice.round_id).where(Notice.round_id.is_not(None))
    for office_id, round_id in db.session.execute(pairs.distinct()):
        figures.setdefault((office_id, round_id), _Figures())
    for office_id, round_id, *values in _count_rows(today):
        for key in _keys_for(office_id, round_id):
            figures[key].counts.update(dict(zip(COUNTS, (v or 0 for v in values), strict=True)))
    for office_id, round_id, notice_id, number, title, count in _finding_rows():
        for key in _keys_for(office_id, round_id):
            figures[key].findings[(notice_id, number, title)] += count
    for office_id, round_id, title in _silent_notices():
        for key in _keys_for(office_id, round_id):
            figures[key].silent.append(title)
    return figures


def _top(findings: Counter[tuple[int, int, str]]) -> list[list[Any]]:
    """[[title, opinions], ...]: the findings with most opinions; ties in notice order."""
    ranked = sorted(findings.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    return [[title, count] for (_notice, _number, title), count in ranked[:TOP_FINDINGS]]


def refresh_figures(today: date | None = None) -> int:
    """Recompute the whole snapshot and replace it in one transaction; returns rows written.

    Callers that may run concurrently take the lease first (refresh_if_stale, the CLI)."""
    figures = compute_figures(today)
    now = datetime.now(UTC)
    db.session.execute(delete(OfficeFigures))
    db.session.add_all(
        OfficeFigures(
            office_id=office_id,
            round_id=round_id,
            **{name: fig.counts[name] for name in COUNTS},
            top_findings=_top(fig.findings),
            silent_notices=fig.silent,
            computed_at=now,
        )
        for (office_id, round_id), fig in figures.items()
    )
    db.session.commit()
    return len(figures)


def computed_at() -> datetime | None:
    """When the snapshot was computed (None: never)."""
    moment = db.session.scalar(select(func.min(OfficeFigures.computed_at)))
    return as_utc(moment) if moment is not None else None


def refresh_if_stale(max_age: float, today: date | None = None) -> bool:
    """Recompute when the snapshot is missing or older than ``max_age`` seconds and no other
    worker is at it; True when this call recomputed."""

    def stale() -> bool:
        at = computed_at()
        return at is None or (datetime.now(UTC) - at).total_seconds() >= max_age

    if not stale():
        return False
    with refresh_lease() as mine:
        # Another worker may have finished while this one waited for the lease.
        if not mine or not stale():
            return False
        refresh_figures(today)
        return True


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeOverview:
    office_id: int
    office_slug: str
    office_name: str
    received: int
    open: int
    overdue: int
    answered: int
    answered_in_time: int
    top_findings: list[tuple[str, int]]
    silent_notices: list[str]
    computed_at: datetime

    @property
    def in_time_share(self) -> float | None:
        return self.answered_in_time / self.answered if self.answered else None


def overview(round_id: int | None) -> list[OfficeOverview]:
    """Each office's figures in one round (None: every round) from the snapshot, the offices
    with most overdue opinions first. Plain rows, not ORM objects: the page reads 200 of them."""
    f = OfficeFigures
    in_round = f.round_id == round_id if round_id is not None else f.round_id.is_(None)
    stmt = (
        select(
            Office.id,
            Office.slug,
            Office.name,
            *(getattr(f, name) for name in COUNTS),
            f.top_findings,
            f.silent_notices,
            f.computed_at,
        )
        .join(Office, Office.id == f.office_id)
        .where(in_round)
        .order_by(f.overdue.desc(), f.open.desc(), Office.name, Office.id)
    )
    return [
        OfficeOverview(
            office_id=row.id,
            office_slug=row.slug,
            office_name=row.name,
            received=row.received,
            open=row.open,
            overdue=row.overdue,
            answered=row.answered,
            answered_in_time=row.answered_in_time,
            top_findings=[(str(t), int(n)) for t, n in row.top_findings],
            silent_notices=[str(t) for t in row.silent_notices],
            computed_at=as_utc(row.computed_at),
        )
        for row in db.session.execute(stmt)
    ]


@dataclass(frozen=True)
class RoundTotals:
    round_id: int | None  # None: every round
    offices: int
    received: int
    open: int
    overdue: int
    answered: int
    answered_in_time: int

    @property
    def in_time_share(self) -> float | None:
        return self.answered_in_time / self.answered if self.answered else None


def round_totals() -> dict[int | None, RoundTotals]:
    """Per round (and None: every round), the offices' figures added up (unrouted left out)."""
    stmt = (
        select(
            OfficeFigures.round_id,
            func.count(),
            *(func.sum(getattr(OfficeFigures, name)) for name in COUNTS),
        )
        .where(OfficeFigures.office_id.is_not(None))
        .group_by(OfficeFigures.round_id)
    )
    return {
        row[0]: RoundTotals(row[0], row[1], *(int(v or 0) for v in row[2:]))
        for row in db.session.execute(stmt)
    }


def unrouted_count() -> int:
    """Submissions waiting for the inspection office to route them (every round)."""
    stmt = select(OfficeFigures.received).where(
        OfficeFigures.office_id.is_(None), OfficeFigures.round_id.is_(None)
    )
    return db.session.scalar(stmt) or 0
