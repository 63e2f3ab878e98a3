"""The staff home page as a workbench: how many opinions wait for this person, by kind, each
count a link to the queue filtered to exactly those opinions (same filter, same count).

A template global (registered in triage/__init__.py), so the home page of portal.staff,
a lower layer, shows it without importing triage.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from portal.caching import notice_cache
from portal.extensions import db
from portal.intake.models import Submission
from portal.staff.scope import visible_office_ids
from portal.triage import queue, replies
from portal.triage.views import READ_ROLES
from portal.workdays import local_today


@dataclass(frozen=True)
class Tile:
    key: str
    label: LazyString
    hint: LazyString
    count: int
    href: str


# Each tile: its queue filter. "Mine" is what is still open and assigned to me.
TILES: tuple[tuple[str, LazyString, LazyString, queue.QueueFilter], ...] = (
    (
        "mine",
        _l("我的在办"),
        _l("分派给我、尚未办结"),
        queue.QueueFilter(assignee="me", statuses=tuple(sorted(queue.OPEN_STATUSES))),
    ),
    ("overdue", _l("已逾期"), _l("超过答复期限仍未答复"), queue.QueueFilter(overdue=True)),
    ("due_soon", _l("即将到期"), _l("两个工作日内到期"), queue.QueueFilter(due_soon=True)),
    (
        "follow_up",
        _l("新追问"),
        _l("答复后反映人又来追问"),
        queue.QueueFilter(statuses=("follow_up",)),
    ),
    (
        "reopened",
        _l("不满意重办"),
        _l("反映人对答复不满意"),
        queue.QueueFilter(statuses=("reopened",)),
    ),
)


def _count(f: queue.QueueFilter, user_id: int, offices: queue.Offices) -> int:
    """The tile's count, kept QUEUE_COUNTS_TTL seconds like the queue's own counts (five
    COUNTs on every home page load of a large office would cost more than the page)."""
    today = local_today()

    def count() -> int:
        where = queue.conditions(
            f,
            user_id=user_id,
            today=today,
            dialect=db.session.get_bind().dialect.name,
            offices=offices,
        )
        stmt = select(func.count()).select_from(Submission).where(*where)
        return int(db.session.scalar(stmt) or 0)

    cache = notice_cache(queue.COUNTS_CACHE, max_entries=queue.COUNTS_KEPT)
    key = ("workbench", f, user_id, today, offices)
    return int(cache.get_or_make(key, count, max_age=current_app.config["QUEUE_COUNTS_TTL"]))


def tiles() -> list[Tile]:
    """The workbench of the signed-in user, within the offices they may read; editors also
    see the replies waiting for their approval."""
    if not current_user.is_authenticated:
        return []
    out: list[Tile] = []
    if current_user.has_role(*READ_ROLES):
        offices = visible_office_ids(current_user)
        base = url_for("triage.queue")
        out += [
            Tile(
                key, label, hint, _count(f, current_user.id, offices), f"{base}?{f.query_string()}"
            )
            for key, label, hint, f in TILES
        ]
    if current_user.has_role(*replies.EDITOR_ROLES):
        pending = replies.pending_publications(
            visible_office_ids(current_user, *replies.EDITOR_ROLES)
        )
        out.append(
            Tile(
                "approval",
                _l("待我审核"),
                _l("申请公开的答复"),
                len(pending),
                url_for("replies.pending"),
            )
        )
    return out
