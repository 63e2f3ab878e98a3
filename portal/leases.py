"""Named leases in the database: whoever holds an unexpired lease is the only worker doing a
job (the mail fetcher per mailbox, the oversight recomputation), on SQLite and PostgreSQL alike.

A lease table is any model with ``name`` (primary key), ``holder`` and ``lease_until``; each
feature keeps its own table, these functions are the one way to take, renew and give one back.
Each commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db


def acquire(model: Any, name: str, holder: str, lease: timedelta) -> bool:
    """Take the lease if it is free, expired or already ours; atomic (one UPDATE)."""
    if db.session.get(model, name) is None:
        db.session.add(model(name=name, holder=None, lease_until=None))
        try:
            db.session.commit()
        except IntegrityError:  # created concurrently: fine, it exists now
            db.session.rollback()
    now = datetime.now(UTC)
    result = db.session.execute(
        update(model)
        .where(
            model.name == name,
            (model.lease_until.is_(None)) | (model.lease_until < now) | (model.holder == holder),
        )
        .values(holder=holder, lease_until=now + lease)
    )
    db.session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew(model: Any, name: str, holder: str, lease: timedelta) -> None:
    db.session.execute(
        update(model)
        .where(model.name == name, model.holder == holder)
        .values(lease_until=datetime.now(UTC) + lease)
    )
    db.session.commit()


def release(model: Any, name: str, holder: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(model)
        .where(model.name == name, model.holder == holder)
        .values(holder=None, lease_until=None)
    )
    db.session.commit()
