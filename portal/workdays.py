"""Chinese working days and Asia/Shanghai dates (pure logic, no Flask).

chinese-calendar knows the State Council's holiday schedule year by year. For a year it does not
cover yet (the schedule for next year is published each November), we fall back to weekends plus
the fixed-date statutory holidays, and the office can add the published schedule through
``extra_holidays`` / ``extra_workdays`` (config EXTRA_HOLIDAYS / EXTRA_WORKDAYS, ISO dates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Statutory holidays that fall on a fixed Gregorian date (lunar ones cannot be guessed).
FIXED_HOLIDAYS = {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Aware, in UTC. A naive value is UTC: SQLite hands timezone=True columns back naive."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_local(moment: datetime) -> datetime:
    """An aware (or naive-UTC, as SQLite returns it) datetime in Asia/Shanghai."""
    return as_utc(moment).astimezone(SHANGHAI)


def local_to_utc(moment: datetime) -> datetime:
    """A naive Asia/Shanghai wall-clock time (a form's datetime-local) as aware UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)


def local_midnight_utc(day: date) -> datetime:
    """The UTC instant an Asia/Shanghai day begins (for received-date filters)."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def local_date(moment: datetime) -> date:
    return to_local(moment).date()


def local_today() -> date:
    return local_date(utcnow())


@dataclass(frozen=True)
class WorkCalendar:
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_iso(cls, holidays: Iterable[str] = (), workdays: Iterable[str] = ()) -> WorkCalendar:
        return cls(
            frozenset(date.fromisoformat(d) for d in holidays),
            frozenset(date.fromisoformat(d) for d in workdays),
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WorkCalendar:
        """From the app config's EXTRA_HOLIDAYS / EXTRA_WORKDAYS (lists of ISO dates)."""
        return cls.from_iso(config.get("EXTRA_HOLIDAYS") or (), config.get("EXTRA_WORKDAYS") or ())

    def is_workday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return False
        if day in self.extra_workdays:
            return True
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS

    def add_workdays(self, start: date, count: int) -> date:
        """The date ``count`` working days after ``start`` (the start day itself never counts)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        days = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                days += 1
        return days

    def due_date(self, received: datetime, workdays: int) -> date:
        return self.add_workdays(local_date(received), workdays)
