"""Tamper-evident audit log: a hash chain of events.

Each event's hash is sha256(canonical JSON of the event + the previous event's hash). A single
``audit_head`` row holds the sequence number and the last hash; ``record()`` updates that row
first, which takes a row lock on PostgreSQL and the write lock on SQLite, so concurrent writers
queue instead of forking the chain. ``record()`` never commits: the event lands in the same
transaction as the change it records, or not at all.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Flask, has_request_context, request
from flask.cli import AppGroup
from flask_login import current_user
from sqlalchemy import JSON, DateTime, Integer, String, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model, db

GENESIS = "0" * 64


class Event(Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Model):
    """The one row that serialises appends and remembers the chain's tip."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str | None,
    object_id: str | None,
    details: dict[str, Any],
    ip: str | None,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "at": _iso(at),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "ip": ip,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((canonical + prev_hash).encode("utf-8")).hexdigest()


def current_actor() -> str:
    """'user:<id>:<email>' for a logged-in staff member, 'public' for anyone else in a request,
    'cli' outside requests."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return f"user:{current_user.id}:{current_user.email}"
    return "public" if has_request_context() else "cli"


# pg_advisory_xact_lock key ("audit" in ASCII): held until the caller's transaction ends.
ADVISORY_LOCK_KEY = 0x6175646974


def _next_link() -> tuple[int, str]:
    """Take the next sequence number and the previous hash, locking the head row.

    One UPDATE … RETURNING: it takes the row lock on PostgreSQL and the write lock on SQLite,
    so concurrent appends queue here until the caller's transaction ends."""
    session = db.session
    advance = (
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
    )
    row = session.execute(advance).one_or_none()
    if row is None:
        _create_head()
        row = session.execute(advance).one()
    return row.seq, row.last_hash


def _create_head() -> None:
    """The head row normally exists (migration, create_all); make it if it was emptied."""
    session = db.session
    head = {"id": 1, "seq": 0, "last_hash": GENESIS}
    if session.get_bind().dialect.name == "postgresql":
        # Two first writers could both find no head; the advisory lock lets one create it.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        session.execute(
            postgresql.insert(AuditHead).values(head).on_conflict_do_nothing(index_elements=["id"])
        )
    else:
        session.execute(
            sqlite.insert(AuditHead).values(head).on_conflict_do_nothing(index_elements=["id"])
        )


def record(
    action: str,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> Event:
    """Append an event to the chain inside the caller's transaction (never commits).

    Returns the event as written (a transient object: read it, do not add it to a session)."""
    seq, prev_hash = _next_link()
    at = datetime.now(UTC)
    who = actor or current_actor()
    object_key = None if object_id is None else str(object_id)
    stored: dict[str, Any] = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    ip = request.remote_addr if has_request_context() else None
    digest = event_hash(
        seq=seq,
        at=at,
        actor=who,
        action=action,
        object_type=object_type,
        object_id=object_key,
        details=stored,
        ip=ip,
        prev_hash=prev_hash,
    )
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "actor": who,
        "action": action,
        "object_type": object_type,
        "object_id": object_key,
        "details": stored,
        "ip": ip,
        "prev_hash": prev_hash,
    }
    # Core statements, not the unit of work: every submission writes an event, keep it cheap.
    add_event = insert(Event).values(**fields, hash=digest)
    move_head = update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest)
    if db.session.get_bind().dialect.name == "postgresql":
        # One round trip: the event and the new chain tip in a single statement.
        written = add_event.returning(Event.hash).cte("written")
        db.session.execute(move_head.values(last_hash=select(written.c.hash).scalar_subquery()))
    else:
        db.session.execute(add_event)
        db.session.execute(move_head)
    return Event(**fields, hash=digest)


@dataclass
class Verification:
    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str | None = None


def verify() -> Verification:
    """Walk the chain in order; name the first event that does not fit."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    rows = db.session.execute(select(Event).order_by(Event.seq)).scalars()
    for event in rows:
        if event.seq != expected_seq:
            return Verification(False, count, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return Verification(False, count, event.seq, "prev_hash does not match")
        recomputed = event_hash(
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            details=event.details,
            ip=event.ip,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            return Verification(False, count, event.seq, "content does not match its hash")
        prev = event.hash
        expected_seq += 1
        count += 1
    head = db.session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return Verification(False, count, count + 1, "events after this one were deleted")
    return Verification(True, count)


# An AppGroup, so its commands run inside an app context (also under test_cli_runner()).
audit_cli = AppGroup("audit", help="Tamper-evident audit log.")


@audit_cli.command("verify", help="Check the hash chain; exit 1 naming the first broken event.")
def verify_command() -> None:
    result = verify()
    if result.ok:
        click.echo(f"ok: {result.count} events, chain intact")
        return
    click.echo(
        f"BROKEN at event {result.broken_seq}: {result.reason} ({result.count} events verified)",
        err=True,
    )
    sys.exit(1)


# ------------------------------------------- reading the log (portal/staff/audit_views.py)

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


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_cli)
