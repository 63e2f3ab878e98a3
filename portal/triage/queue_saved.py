"""The queue's saved views: a staff member's named filters, kept as query strings.

A saved view holds no rows: opened, it runs through the queue like any filter, so it is scoped
to the offices its owner may read at that moment (queue.py).
"""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.triage.models import SavedView
from portal.triage.queue import BadFilter, QueueFilter


def saved_views(user_id: int) -> list[SavedView]:
    return list(
        db.session.scalars(
            select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name)
        )
    )


def save_view(user_id: int, name: str, f: QueueFilter) -> SavedView:
    """Create or overwrite the user's view called ``name`` (no commit)."""
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:80]
    if not name:
        raise BadFilter("name")
    view = db.session.scalar(
        select(SavedView).where(SavedView.user_id == user_id, SavedView.name == name)
    )
    if view is None:
        view = SavedView(user_id=user_id, name=name, query="")
        db.session.add(view)
    view.query = f.query_string()[:2000]
    db.session.flush()
    return view
