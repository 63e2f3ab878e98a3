"""Server-side session values (issue #19, item 14).

Flask's session cookie is signed, not encrypted: anyone holding it can read it. Secrets such as
a receipt's tracking secret or a TOTP seed being enrolled stay in the database (encrypted with
the personal-data key); the cookie carries only a random id that points to them.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from flask import session
from sqlalchemy import delete

from portal import personal_data
from portal.extensions import db
from portal.staff.models import SessionValue
from portal.workdays import as_utc, utcnow

DEFAULT_TTL = timedelta(hours=1)


def put(value: Any, ttl: timedelta = DEFAULT_TTL) -> str:
    """Store ``value`` (JSON-able) and return its random id. Commits (the row must exist before
    the cookie naming it reaches the browser); expired rows are swept on the way."""
    now = utcnow()
    db.session.execute(delete(SessionValue).where(SessionValue.expires_at < now))
    ident = secrets.token_urlsafe(32)
    db.session.add(
        SessionValue(
            id=ident,
            value=personal_data.encrypt(json.dumps(value, ensure_ascii=False, default=str)),
            expires_at=now + ttl,
        )
    )
    db.session.commit()
    return ident


def get(ident: object) -> Any:
    """The value stored under ``ident``, or None (unknown, expired or not a string)."""
    if not isinstance(ident, str) or not ident:
        return None
    row = db.session.get(SessionValue, ident)
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return json.loads(personal_data.decrypt(row.value))


def drop(ident: object) -> None:
    """Forget the value (caller commits)."""
    if isinstance(ident, str) and ident:
        db.session.execute(delete(SessionValue).where(SessionValue.id == ident))


def stash(key: str, value: Any, ttl: timedelta = DEFAULT_TTL) -> None:
    """session[key] names ``value``, kept server-side (replaces what the key named before)."""
    drop(session.get(key))
    session[key] = put(value, ttl)


def peek(key: str) -> Any:
    return get(session.get(key))


def take(key: str) -> Any:
    """The value session[key] names, removed from the session and the database (shown once)."""
    ident = session.pop(key, None)
    value = get(ident)
    if ident is not None:
        drop(ident)
        db.session.commit()
    return value
