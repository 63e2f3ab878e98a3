"""What the public home page and office pages list: published notices by round and office.

The grouping is plain data work on loaded rows (no Flask), so it is tested on its own; the
queries load each notice's office and round with it, so a page costs a fixed number of queries
however many offices a round covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager, load_only, selectinload

from portal.extensions import db
from portal.notices.models import Notice
from portal.offices.models import Office, Round


@dataclass
class UnitNotices:
    """One office (被巡察单位) and its published notices in one group, newest first."""

    office: Office
    notices: list[Notice] = field(default_factory=list)


@dataclass
class RoundGroup:
    """A round's units, or (round None) the notices that answer no round."""

    round: Round | None
    units: list[UnitNotices] = field(default_factory=list)


def _round_key(found: Round) -> tuple[date, int]:
    return (found.starts_on or date.min, found.id)


def _office_key(office: Office) -> tuple[bool, str, int]:
    return (not office.is_default, office.name, office.id)


def group_notices(notices: Sequence[Notice]) -> list[RoundGroup]:
    """Rounds newest first (start date, then the order they were made), then the notices of
    no round; in each group the offices default first, then by name; each office's notices
    keep the order given (newest first)."""
    groups: dict[int | None, dict[int, UnitNotices]] = {}
    rounds: dict[int, Round] = {}
    for notice in notices:
        round_id = notice.round_id
        if notice.round is not None and round_id is not None:
            rounds[round_id] = notice.round
        units = groups.setdefault(round_id, {})
        unit = units.get(notice.office_id)
        if unit is None:
            unit = units[notice.office_id] = UnitNotices(notice.office)
        unit.notices.append(notice)
    ordered: list[RoundGroup] = [
        RoundGroup(found, _sorted_units(groups[found.id]))
        for found in sorted(rounds.values(), key=_round_key, reverse=True)
    ]
    if None in groups:
        ordered.append(RoundGroup(None, _sorted_units(groups[None])))
    return ordered


def _sorted_units(units: dict[int, UnitNotices]) -> list[UnitNotices]:
    return sorted(units.values(), key=lambda u: _office_key(u.office))


def _published() -> Select[Notice]:
    return (
        select(Notice)
        .join(Office, Notice.office_id == Office.id)
        .options(
            # A list needs no notice text: the long columns stay in the database.
            load_only(
                Notice.slug,
                Notice.title,
                Notice.office_id,
                Notice.round_id,
                Notice.signed_by,
                Notice.signed_on,
                Notice.published_at,
            ),
            contains_eager(Notice.office),
            selectinload(Notice.round),
        )
        .where(Notice.state == "published", Office.active.is_(True))
        .order_by(Notice.signed_on.desc().nulls_last(), Notice.published_at.desc(), Notice.id)
    )


def public_notices() -> list[Notice]:
    """Every published notice of an active office, newest first."""
    return list(db.session.scalars(_published()))


def office_public_notices(office: Office) -> list[Notice]:
    return list(db.session.scalars(_published().where(Notice.office_id == office.id)))


def public_office(slug: str) -> Office | None:
    """An active office by its slug; None for unknown and inactive ones (the page is a 404)."""
    return db.session.scalar(
        select(Office).where(Office.slug == slug.strip().lower(), Office.active.is_(True))
    )
