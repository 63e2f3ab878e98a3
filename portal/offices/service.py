"""Offices and rounds: lookup, creation, the default office and each office's own settings."""

from __future__ import annotations

import re
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.offices.models import Office, Round

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class OfficeError(ValueError):
    """A rule about offices or rounds was broken; the message says which, in Chinese."""


def check_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise OfficeError(f"网址名 {slug!r} 只能用小写字母、数字和连字符，且以字母或数字开头。")
    return slug


def default_office() -> Office:
    """The deployment's first office, created from the OFFICE_* settings when missing.

    Tests and fresh SQLite files build the schema without migrations; this makes the same
    office the migration makes. Two workers racing here both end with the one row."""
    office = db.session.scalar(select(Office).where(Office.is_default.is_(True)))
    if office is not None:
        return office
    config = current_app.config
    office = Office(
        slug=config.get("OFFICE_SLUG") or "main",
        name=config.get("OFFICE_NAME") or "巡察整改办公室",
        short_name=config.get("OFFICE_SHORT_NAME") or "",
        contact_address=config.get("OFFICE_ADDRESS") or None,
        contact_postcode=config.get("OFFICE_POSTCODE") or None,
        return_address=config.get("OFFICE_ADDRESS") or None,
        return_postcode=config.get("OFFICE_POSTCODE") or None,
        is_default=True,
    )
    try:
        with db.session.begin_nested():
            db.session.add(office)
    except IntegrityError:
        office = db.session.scalars(
            select(Office).where(Office.is_default.is_(True))
        ).one()  # the other worker's row
    return office


def office_by_slug(slug: str) -> Office | None:
    return db.session.scalar(select(Office).where(Office.slug == slug.strip().lower()))


def office_or_error(slug: str | None) -> Office:
    """The office named by ``slug``; the default office when None; OfficeError if unknown."""
    if slug is None:
        return default_office()
    office = office_by_slug(slug)
    if office is None:
        raise OfficeError(f"没有网址名为 {slug!r} 的单位。")
    return office


def reading_order(name: str) -> bytes:
    """A sort key that puts Chinese names in pinyin order, as people look for them in a list:
    GB2312 orders its 3,755 common characters by pinyin (rarer ones follow by radical), while
    Unicode code points order them by radical, which reads as random."""
    return name.encode("gb18030", errors="replace")


def all_offices(*, active_only: bool = False) -> list[Office]:
    """Every office, the default one first, then by name in pinyin order."""
    query = select(Office)
    if active_only:
        query = query.where(Office.active.is_(True))
    offices = db.session.scalars(query)
    return sorted(offices, key=lambda o: (not o.is_default, reading_order(o.name), o.id))


def create_office(
    slug: str, *, name: str, short_name: str = "", actor: str | None = None
) -> Office:
    """A new office (caller commits); OfficeError when the slug is taken or malformed."""
    slug = check_slug(slug)
    name = name.strip()
    if not name:
        raise OfficeError("单位名称不能为空。")
    if office_by_slug(slug) is not None:
        raise OfficeError(f"网址名 {slug!r} 已被其他单位使用。")
    default_office()  # the first office stays the default one
    office = Office(slug=slug, name=name, short_name=short_name.strip())
    db.session.add(office)
    db.session.flush()
    audit.record(
        "office.create",
        object_type="office",
        object_id=office.id,
        actor=actor,
        details={"slug": slug, "name": name},
    )
    return office


def round_by_slug(slug: str) -> Round | None:
    return db.session.scalar(select(Round).where(Round.slug == slug.strip().lower()))


def round_or_error(slug: str | None) -> Round | None:
    if slug is None:
        return None
    found = round_by_slug(slug)
    if found is None:
        raise OfficeError(f"没有网址名为 {slug!r} 的巡察轮次。")
    return found


def all_rounds() -> list[Round]:
    return list(db.session.scalars(select(Round).order_by(Round.starts_on.desc(), Round.id.desc())))


def create_round(
    slug: str,
    *,
    name: str,
    inspection_group: str | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    actor: str | None = None,
) -> Round:
    slug = check_slug(slug)
    if not name.strip():
        raise OfficeError("巡察轮次名称不能为空。")
    if round_by_slug(slug) is not None:
        raise OfficeError(f"网址名 {slug!r} 已被其他巡察轮次使用。")
    if starts_on and ends_on and ends_on < starts_on:
        raise OfficeError("结束日期不能早于开始日期。")
    found = Round(
        slug=slug,
        name=name.strip(),
        inspection_group=(inspection_group or "").strip() or None,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    db.session.add(found)
    db.session.flush()
    audit.record(
        "round.create",
        object_type="round",
        object_id=found.id,
        actor=actor,
        details={"slug": found.slug, "name": found.name},
    )
    return found


def ack_workdays(office: Office | None) -> int:
    """Working days to acknowledge a submission of ``office`` (its own rule, else the default)."""
    if office is not None and office.ack_within_workdays:
        return office.ack_within_workdays
    return int(current_app.config["ACK_WITHIN_WORKDAYS"])


def reply_workdays(office: Office | None) -> int:
    if office is not None and office.reply_within_workdays:
        return office.reply_within_workdays
    return int(current_app.config["REPLY_WITHIN_WORKDAYS"])


def letter_identity(office: Office | None) -> dict[str, str]:
    """Who a printed letter or a mail is from: name, letterhead, return address, postcode."""
    office = office or default_office()
    return {
        "office_name": office.name,
        "office_letterhead": office.letterhead or office.name,
        "office_address": office.return_address or office.contact_address or "",
        "office_postcode": office.return_postcode or office.contact_postcode or "",
    }
