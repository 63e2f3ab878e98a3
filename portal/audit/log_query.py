"""Reading the log: filters and keyset paging for the staff audit pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.audit.chain import Event
from portal.extensions import db

PAGE_SIZE = 50


@dataclass
class EventFilters:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date | None = None  # dates in the office's timezone
    until: date | None = None
    before: int | None = None  # keyset paging: events with seq < before

    @classmethod
    def from_args(cls, args: Any) -> EventFilters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        before = args.get("before", "")
        return cls(
            actor=args.get("actor", "").strip()[:200],
            action=args.get("action", "").strip()[:80],
            object_type=args.get("object_type", "").strip()[:40],
            object_id=args.get("object_id", "").strip()[:80],
            since=day("since"),
            until=day("until"),
            before=int(before) if before.isdigit() else None,
        )

    def query_args(self, **override: Any) -> dict[str, Any]:
        values = {
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        values.update(override)
        return {k: v for k, v in values.items() if v not in ("", None)}


def find_events(filters: EventFilters, tz: str, limit: int = PAGE_SIZE) -> list[Event]:
    """Newest first; actor matches a substring, action a prefix (``login.`` finds all logins)."""
    query = select(Event).order_by(Event.seq.desc()).limit(limit)
    if filters.actor:
        query = query.where(Event.actor.contains(filters.actor, autoescape=True))
    if filters.action:
        query = query.where(Event.action.startswith(filters.action, autoescape=True))
    if filters.object_type:
        query = query.where(Event.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(Event.object_id == filters.object_id)
    zone = ZoneInfo(tz)
    if filters.since:
        start = datetime.combine(filters.since, time.min, zone).astimezone(UTC)
        query = query.where(Event.at >= start)
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time.min, zone).astimezone(UTC)
        query = query.where(Event.at < end)
    if filters.before:
        query = query.where(Event.seq < filters.before)
    return list(db.session.scalars(query))
