"""What the public feedback form needs of its notice: the published notice itself, its dates
and office (cached per notice, see portal.caching), and its active findings grouped by category.

The blank form is the first step of every submission, so these facts are kept in the per-notice
caches; a POST always reads the notice from the database (``public_notice``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import load_only

from portal import site
from portal.caching import notice_cache
from portal.extensions import db
from portal.notices.models import Notice
from portal.offices.models import Office
from portal.offices.service import reply_workdays
from portal.workdays import to_local


def public_notice(slug: str) -> Notice:
    """The notice as the database has it now: 404 for a draft, 410 once withdrawn."""
    # Only what the form needs: the notice's text and sections are large and not shown here.
    notice = db.session.scalar(
        select(Notice)
        .options(
            load_only(
                Notice.id,
                Notice.slug,
                Notice.title,
                Notice.state,
                Notice.version,
                Notice.feedback_opens_at,
                Notice.feedback_closes_at,
                Notice.office_id,
            )
        )
        .where(Notice.slug == slug)
    )
    if notice is None or notice.state == "draft":
        abort(404)
    if notice.state == "withdrawn":
        abort(410)
    return notice


@dataclass(frozen=True)
class NoticeMeta:
    """What the form page needs of its notice (no ORM object: it outlives the request):
    its dates, and the office the opinion goes to with that office's reply deadline."""

    id: int
    slug: str
    title: str
    version: int
    feedback_opens_at: datetime | None
    feedback_closes_at: datetime | None
    office_name: str
    reply_workdays: int

    @classmethod
    def of(cls, notice: Notice) -> NoticeMeta:
        office = db.session.get(Office, notice.office_id)
        return cls(
            notice.id,
            notice.slug,
            notice.title,
            notice.version,
            notice.feedback_opens_at,
            notice.feedback_closes_at,
            office.name if office is not None else "",
            reply_workdays(office),
        )


def cached_notice_meta(slug: str) -> NoticeMeta:
    """The published notice's form facts, re-read at most every NOTICE_CACHE_TTL seconds.

    Every submission starts with a GET of the form; within the TTL it costs no database
    round trip. A withdrawal or a new version shows within the TTL, as on the notice page."""
    meta: NoticeMeta = notice_cache("intake.notice_meta").get_or_make(
        slug,
        lambda: NoticeMeta.of(public_notice(slug)),
        max_age=current_app.config["NOTICE_CACHE_TTL"],
    )
    return meta


def window_closed_message(notice: NoticeMeta, now: datetime) -> str | None:
    """Why the feedback window is shut right now (dates in Asia/Shanghai), or None if open."""
    opens, closes = notice.feedback_opens_at, notice.feedback_closes_at
    if opens is not None and now < to_local(opens):
        return _(
            "本公示的意见征集将于%(when)s开始，届时欢迎提出意见。", when=site.datetime_text(opens)
        )
    if closes is not None and now >= to_local(closes):
        return _(
            "本公示的意见征集已于%(when)s截止，网上表单不再接收意见。",
            when=site.datetime_text(closes),
        )
    return None


@dataclass(frozen=True)
class FindingChoice:
    number: int
    title: str


FindingGroups = list[tuple[Any, list[FindingChoice]]]  # (category title, its active findings)


def findings_by_category(notice: NoticeMeta) -> FindingGroups:
    """Active findings grouped under their category titles, in published order."""
    # Per (notice id, version): the form page is fetched before every submission, and
    # re-reading categories and findings each time was most of its cost.
    cache = notice_cache("intake.finding_groups")
    groups: FindingGroups = cache.get_or_make(
        (notice.id, notice.version), lambda: _read_finding_groups(notice.id)
    )
    return groups


def _read_finding_groups(notice_id: int) -> FindingGroups:
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        abort(404)
    groups: FindingGroups = [
        (
            category.title,
            [FindingChoice(f.number, f.title) for f in category.findings if f.active],
        )
        for category in notice.categories
    ]
    loose = [
        FindingChoice(f.number, f.title)
        for f in notice.findings
        if f.active and f.category_id is None
    ]
    if loose:
        groups.append((_l("其他问题"), loose))  # lazy: the cache is shared by languages
    return [(title, choices) for title, choices in groups if choices]


def finding_numbers(notice: NoticeMeta) -> set[int]:
    return {choice.number for _, choices in findings_by_category(notice) for choice in choices}


def preselected_finding(notice: NoticeMeta) -> FindingChoice | None:
    """The finding named in ?finding= (the notice page's "对此问题提意见" link), if active."""
    number = request.args.get("finding", type=int)
    for _title, choices in findings_by_category(notice):
        for choice in choices:
            if choice.number == number:
                return choice
    return None
