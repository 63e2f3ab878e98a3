"""Canned replies (常用答复) of an office: texts staff start a reply from, one per finding of the
office's notices or general. Each change is an audit event; a retired text is kept (replies
may have started from it) but no longer offered. Caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.sanitize import normalise_text
from portal.notices.models import Finding, Notice
from portal.triage.models import CannedReply
from portal.workdays import utcnow

TITLE_MAX = 200
BODY_MAX = 20_000


class CannedError(ValueError):
    """A text that cannot be saved; the message is for staff."""


@dataclass
class FindingTexts:
    """One finding of a notice and its canned replies (current first, then retired)."""

    finding: Finding
    texts: list[CannedReply] = field(default_factory=list)


@dataclass
class OfficeTexts:
    general: list[CannedReply]
    notices: list[tuple[Notice, list[FindingTexts]]]


def office_findings(office_id: int) -> list[tuple[Notice, list[Finding]]]:
    """The office's notices (newest first) with their current findings in number order."""
    notices = db.session.scalars(
        select(Notice)
        .where(Notice.office_id == office_id, Notice.state != "withdrawn")
        .order_by(Notice.created_at.desc(), Notice.id.desc())
    )
    grouped = []
    for notice in notices:
        findings = sorted((f for f in notice.findings if f.active), key=lambda f: f.number)
        if findings:
            grouped.append((notice, findings))
    return grouped


def office_texts(office_id: int) -> OfficeTexts:
    """Every canned reply of the office, general ones and each finding's."""
    rows = list(
        db.session.scalars(
            select(CannedReply)
            .where(CannedReply.office_id == office_id)
            .order_by(CannedReply.retired_at.is_not(None), CannedReply.id)
        )
    )
    by_finding: dict[int, list[CannedReply]] = {}
    for row in rows:
        if row.finding_id is not None:
            by_finding.setdefault(row.finding_id, []).append(row)
    notices = [
        (notice, [FindingTexts(f, by_finding.get(f.id, [])) for f in findings])
        for notice, findings in office_findings(office_id)
    ]
    return OfficeTexts([r for r in rows if r.finding_id is None], notices)


def finding_of_office(office_id: int, finding_id: int | None) -> Finding | None:
    """The finding when it is one of the office's current findings (None for a general text);
    CannedError otherwise (a forged id never attaches a text to another office's finding)."""
    if finding_id is None:
        return None
    finding = db.session.get(Finding, finding_id)
    if finding is None or not finding.active or finding.notice.office_id != office_id:
        raise CannedError("请选择本单位公示中的问题，或选择“通用”。")
    return finding


def _clean(title: str, body: str) -> tuple[str, str]:
    title = " ".join(normalise_text(title or "").split())
    body = normalise_text(body or "").strip()
    if not title:
        raise CannedError("请填写标题。")
    if len(title) > TITLE_MAX:
        raise CannedError(f"标题不超过{TITLE_MAX}字。")
    if not body:
        raise CannedError("请填写答复内容。")
    if len(body) > BODY_MAX:
        raise CannedError(f"答复内容不超过{BODY_MAX}字。")
    return title, body


def _record(action: str, canned: CannedReply, actor: str, **extra: object) -> None:
    finding = canned.finding
    audit.record(
        action,
        object_type="canned_reply",
        object_id=canned.id,
        actor=actor,
        details={
            "office_id": canned.office_id,
            "finding": finding.number if finding is not None else None,
            "title": canned.title,
            **extra,
        },
    )


def create(
    office_id: int, finding_id: int | None, title: str, body: str, *, actor: str
) -> CannedReply:
    finding = finding_of_office(office_id, finding_id)
    title, body = _clean(title, body)
    canned = CannedReply(office_id=office_id, finding=finding, title=title, body=body)
    db.session.add(canned)
    db.session.flush()
    _record("canned.create", canned, actor)
    return canned


def edit(canned: CannedReply, finding_id: int | None, title: str, body: str, *, actor: str) -> None:
    assert canned.office_id is not None
    finding = finding_of_office(canned.office_id, finding_id)
    title, body = _clean(title, body)
    changed = [
        name
        for name, old, new in (
            ("finding", canned.finding_id, finding.id if finding else None),
            ("title", canned.title, title),
            ("body", canned.body, body),
        )
        if old != new
    ]
    canned.finding, canned.title, canned.body = finding, title, body
    db.session.flush()
    _record("canned.edit", canned, actor, changed=changed)


def set_retired(canned: CannedReply, retired: bool, *, actor: str) -> None:
    canned.retired_at = utcnow() if retired else None
    _record("canned.retire" if retired else "canned.restore", canned, actor)
