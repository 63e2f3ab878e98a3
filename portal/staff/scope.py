"""Which offices' data a staff member may read or change: enforced where data is read.

Every query over office data adds ``office_clause(Model.office_id, ...)``; every page about one
object calls ``require_office(obj.office_id, ...)``. Templates never decide.

On PostgreSQL the same scope is a second line: row-level security policies (see rls.py) read
the setting ``portal.office_ids`` that this module sets at the start of every transaction of a
staff request: a comma-separated list of office ids, ``*`` for every office, ``0`` for none.
Outside a staff request (public pages, CLI, workers) it stays unset, which the policies read
as "no staff scope".
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import ColumnElement, event, false, text, true
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.staff.models import OFFICE_ROLES, User

READ_ROLES = OFFICE_ROLES  # any office role may read that office's data
SCOPE_SETTING = "portal.office_ids"
ALL_OFFICES = "*"
NO_OFFICE = "0"  # no office has id 0


def visible_office_ids(user: User, *roles: str) -> frozenset[int] | None:
    """Offices where ``user`` holds one of ``roles`` (default: any role); None = every office,
    unrouted submissions included."""
    wanted = set(roles or READ_ROLES)
    if user.role == "admin":
        return None
    if user.role == "supervisor":
        return None if wanted & set(user.office_roles(None)) else frozenset()
    return frozenset(m.office_id for m in user.memberships if m.role in wanted)


def _user(user: User | None) -> User:
    return user if user is not None else current_user._get_current_object()


def office_clause(column: Any, *roles: str, user: User | None = None) -> ColumnElement[bool]:
    """A WHERE condition keeping rows of the offices the user may act on with ``roles``."""
    ids = visible_office_ids(_user(user), *roles)
    if ids is None:
        return true()
    if not ids:
        return false()
    return column.in_(sorted(ids))


def can(office_id: int | None, *roles: str, user: User | None = None) -> bool:
    ids = visible_office_ids(_user(user), *roles)
    return ids is None or (office_id is not None and office_id in ids)


def require_office(office_id: int | None, *roles: str) -> None:
    """404 when the user may not read this office's data at all (do not confirm that it
    exists), 403 when it may read but lacks ``roles`` there."""
    if not can(office_id):
        abort(404)
    if roles and not can(office_id, *roles):
        abort(403)


def scope_setting(user: User) -> str:
    ids = visible_office_ids(user)
    if ids is None:
        return ALL_OFFICES
    return ",".join(str(i) for i in sorted(ids)) or NO_OFFICE


def _set_scope(connection: Any, value: str) -> None:
    connection.execute(
        text("SELECT set_config(:name, :value, true)"), {"name": SCOPE_SETTING, "value": value}
    )


def _after_begin(_session: Session, _transaction: Any, connection: Any) -> None:
    if connection.dialect.name != "postgresql" or not has_request_context():
        return
    value = g.get("office_scope")
    if value is not None:
        _set_scope(connection, value)


def _scope_request() -> None:
    """Fix the staff member's scope for this request and apply it to the open transaction.

    Only on staff pages: a staff member who also uses the public site (sends an opinion on
    another office's notice, tracks one) is a citizen there, and the public side is unscoped."""
    if not request.path.startswith("/staff") or not current_user.is_authenticated:
        return
    g.office_scope = scope_setting(current_user)
    if db.session.get_bind().dialect.name == "postgresql":
        _set_scope(db.session.connection(), g.office_scope)


def init_scope(app: Flask) -> None:
    app.before_request(_scope_request)
    if not event.contains(Session, "after_begin", _after_begin):
        event.listen(Session, "after_begin", _after_begin)
