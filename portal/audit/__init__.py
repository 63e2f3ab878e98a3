"""Tamper-evident audit log (issue #19 item 8): a keyed hash chain of events.

- chain.py: events, the head row, anchors; ``record()`` (never commits) and ``verify()``.
- keys.py: the HMAC key, kept outside the database (``AUDIT_KEY`` or ``instance/audit.key``).
- anchors.py: ``flask audit anchor`` hands the head hash to people outside the database.
- append_only.py: PostgreSQL triggers refusing UPDATE and DELETE of events.
- security_log.py: security events copied to syslog; denied requests recorded.
- log_query.py: filters for the staff audit pages.
- cli.py: ``flask audit verify [--anchor SEQ:HASH]…`` and ``flask audit anchor``.

Callers use ``from portal import audit`` and ``audit.record(...)``.
"""

from __future__ import annotations

from flask import Flask

from portal.audit import append_only as append_only
from portal.audit import security_log
from portal.audit.chain import (
    ADVISORY_LOCK_KEY,
    GENESIS,
    AuditAnchor,
    AuditHead,
    Event,
    Verification,
    current_actor,
    event_hash,
    record,
    verify,
)
from portal.audit.log_query import PAGE_SIZE, EventFilters, find_events

__all__ = [
    "ADVISORY_LOCK_KEY",
    "GENESIS",
    "PAGE_SIZE",
    "AuditAnchor",
    "AuditHead",
    "Event",
    "EventFilters",
    "Verification",
    "current_actor",
    "event_hash",
    "find_events",
    "init_app",
    "record",
    "verify",
]


def init_app(app: Flask) -> None:
    from portal.audit.cli import audit_cli

    app.cli.add_command(audit_cli)
    security_log.init_app(app)
