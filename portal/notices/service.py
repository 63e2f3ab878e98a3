"""Importing, publishing and serialising notices (called by the CLI and the editors' views)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from portal import audit
from portal.extensions import db
from portal.notices.models import (
    FINDING_STATUSES,
    Category,
    Finding,
    FindingStatusChange,
    Measure,
    Notice,
    NoticeRevision,
)
from portal.notices.parse import ParsedNotice, ParseWarning, carry_over, parse_notice
from portal.offices.models import Office, Round
from portal.offices.service import OfficeError, default_office
from portal.workdays import SHANGHAI, local_to_utc


@dataclass
class ImportResult:
    notice: Notice
    created: bool
    revision: NoticeRevision
    warnings: list[ParseWarning] = field(default_factory=list)


def slugify(name: str) -> str:
    """ASCII slug from a file name or title; '' when nothing ASCII is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:100]


def default_slug(parsed: ParsedNotice, source_name: str | None) -> str:
    slug = slugify(source_name or "")
    if slug:
        return slug
    if parsed.signed_on:
        return f"notice-{parsed.signed_on.isoformat()}"
    count = db.session.scalar(select(func.count(Notice.id))) or 0
    return f"notice-{count + 1}"


def get_by_slug(slug: str) -> Notice | None:
    return db.session.scalar(select(Notice).where(Notice.slug == slug))


def _sections_json(parsed: ParsedNotice) -> list[dict[str, Any]]:
    out = []
    for section in parsed.sections:
        out.append(
            {
                "number": section.number,
                "title": section.title,
                "body": section.body,
                "kind": section.kind,
                "subsections": [
                    {"number": s.number, "title": s.title, "body": s.body}
                    for s in section.subsections
                ],
            }
        )
    return out


def _apply_structure(notice: Notice, parsed: ParsedNotice) -> None:
    """Upsert categories and findings by number so links from submissions stay valid."""
    categories = {c.number: c for c in notice.categories}
    findings = {f.number: f for f in notice.findings}
    seen: set[int] = set()
    for parsed_category in parsed.categories:
        category = categories.get(parsed_category.number)
        if category is None:
            category = Category(number=parsed_category.number, title=parsed_category.title)
            notice.categories.append(category)
        category.title = parsed_category.title
        for parsed_finding in parsed_category.findings:
            finding = findings.get(parsed_finding.number)
            if finding is None:
                finding = Finding(number=parsed_finding.number, title=parsed_finding.title)
                notice.findings.append(finding)
                findings[finding.number] = finding
            finding.title = parsed_finding.title
            finding.label = parsed_finding.label
            finding.description = parsed_finding.description
            finding.category = category
            finding.status = parsed_finding.status or finding.status
            finding.active = True
            _apply_measures(finding, parsed_finding.measures)
            seen.add(parsed_finding.number)
    for number, finding in findings.items():
        if number not in seen:
            finding.active = False
    stale = [c for c in notice.categories if c.number not in {p.number for p in parsed.categories}]
    for category in stale:
        notice.categories.remove(category)


def _apply_measures(finding: Finding, parsed_measures: list[Any]) -> None:
    """Update measures in place: the unit of work inserts before it deletes, so replacing the
    list wholesale would collide on (finding_id, number)."""
    existing = {m.number: m for m in finding.measures}
    wanted = {m.number for m in parsed_measures}
    for stale in [m for m in finding.measures if m.number not in wanted]:
        finding.measures.remove(stale)
    for parsed in parsed_measures:
        measure = existing.get(parsed.number)
        if measure is None:
            measure = Measure(number=parsed.number)
            finding.measures.append(measure)
        measure.text = parsed.text
        measure.status = parsed.status


def _stored_roles(roles: Mapping[int, str]) -> dict[str, str] | None:
    return {str(line): role for line, role in sorted(roles.items())} or None


def effective_roles(
    notice: Notice | None, text: str, given: Mapping[int, str] | None = None
) -> dict[int, str]:
    """The line roles to read `text` with: the editor's when given, else those given to the
    notice's last revision, moved to the same lines of the new text (a correction is made once)."""
    if given is not None:
        return dict(given)
    if notice is None or not notice.revisions:
        return {}
    last = notice.revisions[-1]
    if not last.line_roles:
        return {}
    old = {int(line): role for line, role in last.line_roles.items()}
    return carry_over(last.source_text, old, text)


def import_notice(
    text: str,
    *,
    roles: Mapping[int, str] | None = None,
    note: str | None = None,
    slug: str | None = None,
    publish: bool = False,
    actor: str = "cli",
    source_name: str | None = None,
    office: Office | None = None,
    round_: Round | None = None,
) -> ImportResult:
    """Parse and store a notice (new, or a new revision of the same slug). Does not commit.

    A notice with parse warnings stays a draft even when publishing was asked for, so an editor
    looks at it first. Raises NoticeParseError (naming the line) before touching the database.
    `roles` are line roles from the preview (see effective_roles when None); `note` is the
    change note of a revision.
    """
    notice = get_by_slug(slug) if slug else None
    line_roles = effective_roles(notice, text, roles)
    parsed = parse_notice(text, roles=line_roles)
    if slug is None:
        slug = default_slug(parsed, source_name)
        notice = get_by_slug(slug)
        if notice is not None and roles is None and notice.revisions:
            # The slug came from the text itself: read it again with that notice's corrections.
            line_roles = effective_roles(notice, text, None)
            parsed = parse_notice(text, roles=line_roles)
    created = notice is None
    if notice is None:
        notice = Notice(
            slug=slug,
            title=parsed.title,
            state="draft",
            version=0,
            office_id=(office or default_office()).id,
        )
        db.session.add(notice)
    elif office is not None and notice.office_id != office.id:
        raise OfficeError(f"网址名 {slug!r} 已被其他单位的公示使用。")
    if round_ is not None:
        notice.round_id = round_.id
    notice.title = parsed.title
    notice.preamble = parsed.preamble
    notice.closing = parsed.closing
    notice.sections = _sections_json(parsed)
    notice.contact_phone = parsed.contacts.phone
    notice.contact_email = parsed.contacts.email
    notice.contact_address = parsed.contacts.address
    notice.contact_postcode = parsed.contacts.postcode
    notice.signed_by = parsed.signed_by
    notice.signed_on = parsed.signed_on
    notice.warnings = [{"line": w.line, "message": w.message} for w in parsed.warnings]
    notice.version = (notice.version or 0) + 1
    _apply_structure(notice, parsed)
    revision = NoticeRevision(
        number=len(notice.revisions) + 1,
        source_text=text,
        created_by=actor,
        note=(note or "").strip()[:300] or None,
        line_roles=_stored_roles(line_roles),
    )
    notice.revisions.append(revision)
    db.session.flush()
    audit.record(
        "notice.import" if created else "notice.revise",
        object_type="notice",
        object_id=notice.id,
        details={
            "slug": slug,
            "revision": revision.number,
            "findings": len(parsed.findings),
            "warnings": len(parsed.warnings),
        },
        actor=actor,
    )
    if publish and not parsed.warnings:
        publish_notice(notice, actor=actor)
    return ImportResult(notice, created, revision, list(parsed.warnings))


def publish_notice(notice: Notice, *, actor: str) -> None:
    notice.state = "published"
    notice.published_at = notice.published_at or datetime.now(UTC)
    notice.withdrawn_note = None
    notice.version += 1
    audit.record(
        "notice.publish",
        object_type="notice",
        object_id=notice.id,
        actor=actor,
        details={"slug": notice.slug},
    )


def withdraw_notice(notice: Notice, *, actor: str, note: str) -> None:
    notice.state = "withdrawn"
    notice.withdrawn_note = note
    notice.version += 1
    audit.record(
        "notice.withdraw",
        object_type="notice",
        object_id=notice.id,
        actor=actor,
        details={"slug": notice.slug, "note": note},
    )


def set_finding_status(
    finding: Finding, *, status: str, effective_on: date, note: str, actor: str
) -> FindingStatusChange:
    """Append a dated public status step and make it the finding's status (caller commits)."""
    if status not in FINDING_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    change = FindingStatusChange(
        finding=finding, status=status, effective_on=effective_on, note=note, created_by=actor
    )
    db.session.add(change)
    previous = finding.status
    finding.status = status
    finding.notice.version += 1  # the public page changes
    db.session.flush()
    audit.record(
        "finding.status",
        object_type="finding",
        object_id=finding.id,
        actor=actor,
        details={
            "notice": finding.notice.slug,
            "number": finding.number,
            "from": previous,
            "to": status,
            "effective_on": effective_on.isoformat(),
            "note": note,
        },
    )
    return change


def set_feedback_window(
    notice: Notice, *, opens: datetime | None, closes: datetime | None, actor: str
) -> None:
    """Open and close the web form at these Asia/Shanghai wall-clock times (a form's
    datetime-local; None: no limit on that side). Caller commits."""
    notice.feedback_opens_at = None if opens is None else local_to_utc(opens)
    notice.feedback_closes_at = None if closes is None else local_to_utc(closes)
    notice.version += 1
    audit.record(
        "notice.feedback_window",
        object_type="notice",
        object_id=notice.id,
        actor=actor,
        details={
            "slug": notice.slug,
            "opens": opens.isoformat() if opens else None,
            "closes": closes.isoformat() if closes else None,
            "timezone": str(SHANGHAI),
        },
    )


def set_notice_round(notice: Notice, round_: Round | None, *, actor: str) -> None:
    """Make ``notice`` answer ``round_`` (None: no round); an event when it changes. Caller
    commits."""
    new_id = round_.id if round_ is not None else None
    if notice.round_id == new_id:
        return
    notice.round_id = new_id
    notice.round = round_
    notice.version += 1  # the public page names its round
    audit.record(
        "notice.round",
        object_type="notice",
        object_id=notice.id,
        actor=actor,
        details={"slug": notice.slug, "round": round_.slug if round_ is not None else None},
    )


def finding_status_counts(notice: Notice) -> list[tuple[str | None, int]]:
    """How many of the notice's current findings stand at each status, in FINDING_STATUSES
    order, other published wordings next, and None (no status yet) last."""
    counts: dict[str | None, int] = {}
    for finding in notice.findings:
        if finding.active:
            counts[finding.status] = counts.get(finding.status, 0) + 1
    order = {status: i for i, status in enumerate(FINDING_STATUSES)}
    return sorted(
        counts.items(),
        key=lambda item: (item[0] is None, order.get(item[0] or "", len(order)), item[0] or ""),
    )


def published_notices() -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.state == "published")
            .order_by(Notice.signed_on.desc().nulls_last(), Notice.published_at.desc())
        )
    )


def notice_json(notice: Notice) -> dict[str, Any]:
    """The public JSON contract of DESIGN.md; other tools rely on its exact shape."""
    return {
        "slug": notice.slug,
        "title": notice.title,
        "signed_by": notice.signed_by,
        "signed_on": notice.signed_on.isoformat() if notice.signed_on else None,
        "contacts": {
            "phone": notice.contact_phone,
            "email": notice.contact_email,
            "address": notice.contact_address,
            "postcode": notice.contact_postcode,
        },
        "categories": [
            {
                "number": category.number,
                "title": category.title,
                "findings": [
                    {
                        "number": finding.number,
                        "title": finding.title,
                        "status": finding.status,
                        "measures": [
                            {"number": m.number, "text": m.text} for m in finding.measures
                        ],
                    }
                    for finding in category.findings
                    if finding.active
                ],
            }
            for category in notice.categories
        ],
    }
