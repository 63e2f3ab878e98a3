"""What the office report and the round report (.docx) say, read with grouped queries.

One query per kind of figure, grouped by office, whatever the number of offices: the round
report of two hundred offices costs the same five queries as one office's report. The report
holds counts, receipt codes and dates only: no submitter, no text of an opinion.

Definitions are the ledger's (portal.ledger.stats): spam is left out everywhere; replied means a
first reply (or a change to "replied") exists; open is a status that still needs the office;
overdue is open, not replied and past its reply due date.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from portal.extensions import db
from portal.intake.models import Submission, SubmissionFinding
from portal.ledger import stats
from portal.notices.models import Finding, Notice
from portal.offices.models import Office
from portal.triage.case_models import Rating
from portal.triage.workflow import OPEN_STATUSES
from portal.workdays import local_date, local_today

OVERDUE_LISTED = 200  # per office; the rest are counted, and the ledger lists them all


@dataclass
class FindingLine:
    number: int | None
    title: str
    received: int = 0
    replied: int = 0
    open: int = 0


@dataclass(frozen=True)
class OverdueLine:
    code: str
    received_on: date
    due_on: date


@dataclass
class Totals:
    received: int = 0
    replied: int = 0
    replied_in_time: int = 0
    open: int = 0
    overdue: int = 0

    @property
    def in_time_share(self) -> float | None:
        return self.replied_in_time / self.replied if self.replied else None


@dataclass
class OfficeSection:
    office_id: int
    office_name: str
    totals: Totals = field(default_factory=Totals)
    findings: list[FindingLine] = field(default_factory=list)
    channels: list[tuple[str, int]] = field(default_factory=list)  # (channel code, count)
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (status code, count)
    overdue: list[OverdueLine] = field(default_factory=list)
    ratings: list[tuple[str, int]] = field(default_factory=list)  # (rating code, count)
    first_received: date | None = None


@dataclass
class Report:
    title: str
    period_from: date | None
    period_to: date
    sections: list[OfficeSection]


@dataclass(frozen=True)
class _Answered:
    """Each covered submission's first answer, outer-joined onto Submission by ``join``."""

    reply: Any
    change: Any
    at: Any

    @classmethod
    def within(cls, ledger: stats.LedgerFilter) -> _Answered:
        ids = select(Submission.id).where(*ledger.conditions())
        return cls(*stats.first_answer(ids))

    @property
    def exists(self) -> ColumnElement[bool]:
        return or_(self.reply.c.at.is_not(None), self.change.c.at.is_not(None))

    def join(self, stmt: Any) -> Any:
        return stmt.outerjoin(self.reply, self.reply.c.sid == Submission.id).outerjoin(
            self.change, self.change.c.sid == Submission.id
        )


def _open() -> ColumnElement[bool]:
    return Submission.status.in_(sorted(OPEN_STATUSES))


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, literal(1)), else_=literal(0)))


def _totals(ledger: stats.LedgerFilter, today: date) -> dict[int | None, tuple[Totals, Any]]:
    dialect = db.session.get_bind().dialect.name
    answered = _Answered.within(ledger)
    replied = answered.exists
    in_time = and_(
        replied,
        (Submission.reply_due_on.is_(None))
        | (stats.local_day(answered.at, dialect) <= Submission.reply_due_on),
    )
    overdue = and_(~replied, _open(), Submission.reply_due_on < today)
    stmt = answered.join(
        select(
            Submission.office_id,
            func.count(),
            _flag(replied),
            _flag(in_time),
            _flag(_open()),
            _flag(overdue),
            func.min(Submission.received_at),
        )
    )
    stmt = stmt.where(Submission.status != "spam", *ledger.conditions()).group_by(
        Submission.office_id
    )
    return {
        row[0]: (Totals(row[1], row[2] or 0, row[3] or 0, row[4] or 0, row[5] or 0), row[6])
        for row in db.session.execute(stmt)
    }


def _finding_lines(ledger: stats.LedgerFilter) -> dict[int | None, list[FindingLine]]:
    """Every finding of the offices' notices (zeros too), in notice order, with its counts."""
    answered = _Answered.within(ledger)
    link = (
        select(SubmissionFinding.submission_id, SubmissionFinding.finding_id)
        .where(stats.counted_link())
        .subquery("link")
    )
    counts = select(
        Submission.office_id,
        link.c.finding_id,
        func.count(),
        _flag(answered.exists),
        _flag(_open()),
    )
    counts = (
        answered.join(counts.join(link, link.c.submission_id == Submission.id))
        .where(Submission.status != "spam", *ledger.conditions())
        .group_by(Submission.office_id, link.c.finding_id)
    )
    figures = {(r[0], r[1]): (r[2], r[3] or 0, r[4] or 0) for r in db.session.execute(counts)}
    findings = (
        select(Notice.office_id, Finding.id, Finding.number, Finding.title)
        .join(Notice, Notice.id == Finding.notice_id)
        .where(*stats.finding_conditions(ledger))
        .order_by(Notice.office_id, Finding.notice_id, Finding.number)
    )
    if ledger.notice_id is not None:
        findings = findings.where(Finding.notice_id == ledger.notice_id)
    out: dict[int | None, list[FindingLine]] = defaultdict(list)
    for office_id, finding_id, number, title in db.session.execute(findings):
        received, replied, still_open = figures.get((office_id, finding_id), (0, 0, 0))
        out[office_id].append(FindingLine(number, title, received, replied, still_open))
    return out


def _counts_by(column: Any, ledger: stats.LedgerFilter) -> dict[int | None, list[tuple[str, int]]]:
    """Per office, (value, count) of ``column``, most first; spam left out."""
    stmt = (
        select(Submission.office_id, column, func.count())
        .where(Submission.status != "spam", *ledger.conditions())
        .group_by(Submission.office_id, column)
    )
    by_office: dict[int | None, Counter[str]] = defaultdict(Counter)
    for office_id, value, count in db.session.execute(stmt):
        by_office[office_id][value] += count
    return {k: sorted(v.items(), key=lambda kv: (-kv[1], kv[0])) for k, v in by_office.items()}


def _ratings(ledger: stats.LedgerFilter) -> dict[int | None, list[tuple[str, int]]]:
    """Per office, how the answers were rated (好差评): every rating given, most first."""
    stmt = (
        select(Submission.office_id, Rating.rating, func.count())
        .join(Rating, Rating.submission_id == Submission.id)
        .where(Submission.status != "spam", *ledger.conditions())
        .group_by(Submission.office_id, Rating.rating)
    )
    by_office: dict[int | None, Counter[str]] = defaultdict(Counter)
    for office_id, rating, count in db.session.execute(stmt):
        by_office[office_id][rating] += count
    return {k: sorted(v.items(), key=lambda kv: (-kv[1], kv[0])) for k, v in by_office.items()}


def _channels(ledger: stats.LedgerFilter) -> dict[int | None, list[tuple[str, int]]]:
    return _counts_by(Submission.channel, ledger)


def _overdue_lines(ledger: stats.LedgerFilter, today: date) -> dict[int | None, list[OverdueLine]]:
    """The oldest deadlines first, at most OVERDUE_LISTED per office (a window function keeps
    the query one pass whatever the number of offices)."""
    answered = _Answered.within(ledger)
    rank = (
        func.row_number()
        .over(
            partition_by=Submission.office_id,
            order_by=(Submission.reply_due_on, Submission.id),
        )
        .label("rank")
    )
    inner = (
        answered.join(
            select(
                Submission.office_id,
                Submission.code,
                Submission.received_at,
                Submission.reply_due_on,
                rank,
            )
        )
        .where(
            ~answered.exists,
            _open(),
            Submission.reply_due_on < today,
            *ledger.conditions(),
        )
        .subquery()
    )
    stmt = (
        select(inner.c.office_id, inner.c.code, inner.c.received_at, inner.c.reply_due_on)
        .where(inner.c.rank <= OVERDUE_LISTED)
        .order_by(inner.c.office_id, inner.c.rank)
    )
    out: dict[int | None, list[OverdueLine]] = defaultdict(list)
    for office_id, code, received_at, due_on in db.session.execute(stmt):
        out[office_id].append(OverdueLine(code, local_date(received_at), due_on))
    return out


def office_sections(
    offices: list[Office], ledger: stats.LedgerFilter, today: date | None = None
) -> list[OfficeSection]:
    """One section per office, in the order given; ``ledger`` is narrowed to these offices."""
    today = today or local_today()
    ids = tuple(o.id for o in offices)
    narrowed = stats.LedgerFilter(
        ledger.notice_id, ledger.date_from, ledger.date_to, ids, ledger.round_id
    )
    totals = _totals(narrowed, today)
    findings = _finding_lines(narrowed)
    channels = _channels(narrowed)
    statuses = _counts_by(Submission.status, narrowed)
    overdue = _overdue_lines(narrowed, today)
    ratings = _ratings(narrowed)
    sections = []
    for office in offices:
        office_totals, first = totals.get(office.id, (Totals(), None))
        sections.append(
            OfficeSection(
                office.id,
                office.name,
                office_totals,
                findings.get(office.id, []),
                channels.get(office.id, []),
                statuses=statuses.get(office.id, []),
                overdue=overdue.get(office.id, []),
                ratings=ratings.get(office.id, []),
                first_received=local_date(first) if first is not None else None,
            )
        )
    return sections


def period(sections: list[OfficeSection], ledger: stats.LedgerFilter) -> tuple[date | None, date]:
    """From the filter's first day (else the first opinion received) to its last (else today)."""
    firsts = [s.first_received for s in sections if s.first_received is not None]
    start = ledger.date_from or (min(firsts) if firsts else None)
    return start, ledger.date_to or local_today()
