"""One-time enrolment links (issue #19, item 3): a new account, or one whose second factor was
reset, binds its second factor only through a link an admin made, never with the password
alone. Only the link's SHA-256 is stored; it expires and is consumed once (compare-and-set).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from portal import audit
from portal.extensions import db
from portal.staff.models import EnrolmentLink, User
from portal.workdays import as_utc, utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_link(user: User, *, actor: str) -> str:
    """A fresh token for ``user`` (earlier unused links stop working). Caller commits and
    builds the URL (staff.enrol_link)."""
    now = utcnow()
    db.session.execute(
        update(EnrolmentLink)
        .where(EnrolmentLink.user_id == user.id, EnrolmentLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    hours = current_app.config["ENROLMENT_LINK_HOURS"]
    db.session.add(
        EnrolmentLink(
            user_id=user.id,
            token_hash=_digest(token),
            created_by=actor,
            expires_at=now + timedelta(hours=hours),
        )
    )
    audit.record(
        "user.enrol_link",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={"hours": hours},
    )
    return token


def link_url(token: str) -> str:
    """The address to hand over, on the public base URL (the CLI has no request)."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/staff/enrol/{token}"


def valid_link(token: str) -> EnrolmentLink | None:
    """The unused, unexpired link for ``token``, else None."""
    link = db.session.scalar(
        select(EnrolmentLink).where(EnrolmentLink.token_hash == _digest(token))
    )
    if link is None or link.used_at is not None or as_utc(link.expires_at) <= utcnow():
        return None
    if not link.user.active:
        return None
    return link


def consume(link: EnrolmentLink) -> bool:
    """Mark the link used; False when another request used it first (caller commits)."""
    result = db.session.execute(
        update(EnrolmentLink)
        .where(EnrolmentLink.id == link.id, EnrolmentLink.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
