"""The chain: events, the head row that serialises appends, anchors, and verification.

Each event's hash is HMAC-SHA256, keyed with the audit key (portal.audit.keys, kept outside the
database), over the canonical JSON of the event and the previous event's hash. Events written
before the key was introduced keep their plain SHA-256 hashes: the head row records the first
keyed event (``keyed_from``) with a keyed tag, so moving the switch point breaks verification.

A single ``audit_head`` row holds the sequence number and the last hash; ``record()`` updates
that row first, which takes a row lock on PostgreSQL and the write lock on SQLite, so concurrent
writers queue instead of forking the chain. ``record()`` never commits: the event lands in the
same transaction as the change it records, or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import JSON, DateTime, Integer, String, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit import security_log
from portal.audit.keys import audit_key, mac
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
    # The first event hashed with the key (None: none yet) and its keyed tag.
    keyed_from: Mapped[int | None] = mapped_column(Integer)
    keyed_mac: Mapped[str | None] = mapped_column(String(64))


class AuditAnchor(Model):
    """A head hash handed out of the database (printed, mailed) by `flask audit anchor`."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    mailed_to: Mapped[str | None] = mapped_column(String(200))
    mac: Mapped[str] = mapped_column(String(64))


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
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 with ``key``; plain SHA-256 (events before the key existed) without."""
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
    message = (canonical + prev_hash).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def switch_mac(seq: int) -> str:
    return mac("keyed_from", seq)


def anchor_mac(seq: int, digest: str, at: datetime) -> str:
    return mac("anchor", seq, digest, _iso(at))


def current_actor() -> str:
    """'user:<id>:<email>' for a logged-in staff member, 'public' for anyone else in a request,
    'cli' outside requests."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return f"user:{current_user.id}:{current_user.email}"
    return "public" if has_request_context() else "cli"


def _staff_ip() -> str | None:
    """The client's address on staff requests only: a citizen's IP is personal data the office
    does not need once the request is over (rate limits keep theirs in memory for a minute), and
    an event cannot be purged without breaking the chain."""
    if not has_request_context():
        return None
    staff = getattr(current_user, "is_authenticated", False) or request.path.startswith("/staff/")
    return request.remote_addr if staff else None


# pg_advisory_xact_lock key ("audit" in ASCII): held until the caller's transaction ends.
ADVISORY_LOCK_KEY = 0x6175646974


def _next_link() -> tuple[int, str, int | None]:
    """Take the next sequence number, the previous hash and the switch point, locking the head.

    One UPDATE … RETURNING: it takes the row lock on PostgreSQL and the write lock on SQLite,
    so concurrent appends queue here until the caller's transaction ends."""
    session = db.session
    advance = (
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash, AuditHead.keyed_from)
    )
    row = session.execute(advance).one_or_none()
    if row is None:
        _create_head()
        row = session.execute(advance).one()
    return row.seq, row.last_hash, row.keyed_from


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
    seq, prev_hash, keyed_from = _next_link()
    fields: dict[str, Any] = {
        "seq": seq,
        "at": datetime.now(UTC),
        "actor": actor or current_actor(),
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "details": json.loads(json.dumps(details or {}, ensure_ascii=False, default=str)),
        "ip": _staff_ip(),
        "prev_hash": prev_hash,
    }
    digest = event_hash(**fields, key=audit_key())
    head: dict[str, Any] = {}
    if keyed_from is None:  # the first keyed event: remember where plain hashes end
        head = {"keyed_from": seq, "keyed_mac": switch_mac(seq)}
    # Core statements, not the unit of work: every submission writes an event, keep it cheap.
    add_event = insert(Event).values(**fields, hash=digest)
    move_head = update(AuditHead).where(AuditHead.id == 1).values(**head)
    if db.session.get_bind().dialect.name == "postgresql":
        # One round trip: the event and the new chain tip in a single statement.
        written = add_event.returning(Event.hash).cte("written")
        db.session.execute(move_head.values(last_hash=select(written.c.hash).scalar_subquery()))
    else:
        db.session.execute(add_event)
        db.session.execute(move_head.values(last_hash=digest))
    event = Event(**fields, hash=digest)
    security_log.emit(event)
    return event


@dataclass
class Verification:
    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str | None = None
    anchors: int = 0  # anchors checked


def _walk(keyed_from: int | None) -> tuple[Verification, str]:
    """Walk the events in order; name the first that does not fit. Also returns the last hash."""
    key = audit_key()
    prev = GENESIS
    expected_seq = 1
    count = 0
    for event in db.session.execute(select(Event).order_by(Event.seq)).scalars():
        if event.seq != expected_seq:
            return Verification(
                False, count, expected_seq, f"event {expected_seq} is missing"
            ), prev
        if event.prev_hash != prev:
            return Verification(False, count, event.seq, "prev_hash does not match"), prev
        keyed = keyed_from is not None and event.seq >= keyed_from
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
            key=key if keyed else None,
        )
        if not hmac.compare_digest(recomputed, event.hash):
            return Verification(False, count, event.seq, "content does not match its hash"), prev
        prev = event.hash
        expected_seq += 1
        count += 1
    return Verification(True, count), prev


def _check_anchors(
    hashes: dict[int, str], stored: list[AuditAnchor], outside: Iterable[tuple[int, str]]
) -> tuple[int, str] | None:
    """(seq, reason) of the first anchor the chain contradicts, or None."""
    for anchor in stored:
        if not hmac.compare_digest(anchor.mac, anchor_mac(anchor.seq, anchor.hash, anchor.at)):
            return anchor.seq, "a recorded anchor was altered"
    for seq, digest in [*((a.seq, a.hash) for a in stored), *outside]:
        if seq == 0:
            continue
        if hashes.get(seq) != digest:
            return seq, "does not match the anchor recorded for it"
    return None


def verify(outside_anchors: Iterable[tuple[int, str]] = ()) -> Verification:
    """Check the chain, the switch point to keyed hashes and every anchor (the recorded ones
    and ``outside_anchors``: (seq, hash) pairs the office kept outside the database)."""
    head = db.session.get(AuditHead, 1)
    keyed_from = head.keyed_from if head else None
    if keyed_from is not None and not hmac.compare_digest(
        (head.keyed_mac if head else None) or "", switch_mac(keyed_from)
    ):
        return Verification(False, 0, keyed_from, "the start of keyed hashing was altered")
    stored = list(db.session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq)))
    if keyed_from is None and stored:  # anchoring always starts keyed hashing first
        return Verification(False, 0, stored[0].seq, "the start of keyed hashing was removed")
    walked, last_hash = _walk(keyed_from)
    if not walked.ok:
        return walked
    count = walked.count
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS)
    if head_seq != count or head_hash != last_hash:
        return Verification(False, count, count + 1, "events after this one were deleted")
    outside = list(outside_anchors)
    if stored or outside:
        wanted = {seq for seq, _h in outside} | {a.seq for a in stored}
        found = db.session.execute(select(Event.seq, Event.hash).where(Event.seq.in_(wanted)))
        broken = _check_anchors({row.seq: row.hash for row in found}, stored, outside)
        if broken is not None:
            return Verification(False, count, broken[0], broken[1])
    return Verification(True, count, anchors=len(stored) + len(outside))
