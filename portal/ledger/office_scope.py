"""Which offices a ledger page covers: one the reader picked (``?office=<id>``) or every office
the reader may read. Scoping happens here, where the data is read, never in templates."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.offices.models import Office
from portal.staff.scope import require_office, visible_office_ids


@dataclass(frozen=True)
class OfficeScope:
    """``office``: the one office picked, else None; ``office_ids``: the offices whose data
    counts (None: every office and the unrouted submissions); ``choices``: the offices the
    reader may pick from (more than one: the page shows a choice)."""

    office: Office | None
    office_ids: tuple[int, ...] | None
    choices: list[Office]


def readable_offices() -> list[Office]:
    ids = visible_office_ids(current_user)
    query = select(Office).order_by(Office.is_default.desc(), Office.name, Office.id)
    if ids is not None:
        query = query.where(Office.id.in_(sorted(ids)))
    return list(db.session.scalars(query))


def picked_office() -> Office | None:
    """The office of ``?office=<id>``; 404 when it does not exist or the reader may not read it
    (never confirm that another office exists)."""
    raw = request.args.get("office", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    office = db.session.get(Office, int(raw))
    if office is None:
        abort(404)
    require_office(office.id)
    return office


def office_scope() -> OfficeScope:
    office = picked_office()
    choices = readable_offices()
    if office is not None:
        return OfficeScope(office, (office.id,), choices)
    ids = visible_office_ids(current_user)
    return OfficeScope(None, None if ids is None else tuple(sorted(ids)), choices)


def report_office(scope: OfficeScope) -> Office:
    """The office a report is about: the one picked, else the reader's only office; 400 when
    the reader must choose."""
    if scope.office is not None:
        return scope.office
    if len(scope.choices) == 1:
        return scope.choices[0]
    abort(400, _("请先选择单位。"))
