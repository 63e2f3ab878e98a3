"""What staff do to a submission: link findings, note, assign, merge, refer, reveal personal data.

Each function writes its rows and an audit event in the caller's transaction and never
commits; views commit once per request. Status changes go through workflow.change_status.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from portal import audit
from portal.extensions import db
from portal.intake.models import FollowUp, Submission, SubmissionFinding
from portal.intake.sanitize import normalise_text
from portal.notices.models import Finding, Notice
from portal.personal_data import mask_address, mask_email, mask_name, mask_phone
from portal.staff.models import User
from portal.triage import workflow
from portal.triage.models import Assignment, DuplicateLink, Note, Referral, Reply, StatusChange
from portal.triage.routing import FindingDoc, Router
from portal.workdays import as_utc, utcnow

PERSONAL_FIELDS = (
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_address",
    "sender_email",
)
_MASKS = {
    "contact_name": mask_name,
    "contact_phone": mask_phone,
    "contact_email": mask_email,
    "contact_address": mask_address,
    "sender_email": mask_email,
}
FIELD_LABELS = {
    "contact_name": "姓名",
    "contact_phone": "电话",
    "contact_email": "电子邮箱",
    "contact_address": "地址",
    "sender_email": "发件地址",
}


class ActionError(ValueError):
    """A request staff can correct (message in Chinese)."""


# --- finding suggestions ------------------------------------------------------------------------

_router_lock = threading.Lock()


def _routers() -> dict[tuple[int, int, int], Router]:
    # Per application: in the tests many apps share a process and notice ids repeat.
    return current_app.extensions.setdefault("portal.triage.routers", {})


def finding_docs(notice: Notice) -> list[FindingDoc]:
    docs = []
    for finding in notice.findings:
        if not finding.active:
            continue
        parts = [finding.category.title if finding.category else "", finding.title]
        parts += [m.text for m in finding.measures]
        docs.append(FindingDoc(finding.number, finding.title, "\n".join(p for p in parts if p)))
    return docs


def _confirmed_examples(notice: Notice) -> list[tuple[int, str]]:
    """(finding number, submission text) of every staff-confirmed link in this notice."""
    rows = db.session.execute(
        select(Finding.number, Submission.subject, Submission.body)
        .join(SubmissionFinding, SubmissionFinding.finding_id == Finding.id)
        .join(Submission, Submission.id == SubmissionFinding.submission_id)
        .where(
            Finding.notice_id == notice.id,
            SubmissionFinding.source == "staff",
            SubmissionFinding.confirmed.is_(True),
        )
        .order_by(SubmissionFinding.id)
    )
    return [(r.number, submission_text(r.subject, r.body)) for r in rows]


def router_for(notice: Notice) -> Router:
    """One Router per (notice, notice version, number of learned examples), cached in memory."""
    examples = _confirmed_examples(notice)
    key = (notice.id, notice.version, len(examples))
    routers = _routers()
    with _router_lock:
        router = routers.get(key)
    if router is None:
        by_number: dict[int, list[str]] = {}
        for number, text in examples:
            by_number.setdefault(number, []).append(text)
        docs = finding_docs(notice)
        known = {d.number for d in docs}
        router = Router(docs, {n: t for n, t in by_number.items() if n in known})
        with _router_lock:
            for old in [k for k in routers if k[0] == notice.id]:
                del routers[old]
            routers[key] = router
    return router


def submission_text(subject: str | None, body: str | None) -> str:
    return "\n".join(p for p in (subject, body) if p)


@dataclass(frozen=True)
class FindingRow:
    finding: Finding
    score: float | None
    link: SubmissionFinding | None

    @property
    def confirmed(self) -> bool:
        return bool(self.link and self.link.confirmed)


def finding_rows(submission: Submission, limit: int = 5) -> list[FindingRow]:
    """Linked findings first, then the Router's suggestions above its threshold."""
    notice = submission.notice
    scores: dict[int, float] = {}
    if notice is not None:
        router = router_for(notice)
        for suggestion in router.suggest(
            submission_text(submission.subject, submission.body), limit
        ):
            scores[suggestion.number] = suggestion.score
    rows = [
        FindingRow(link.finding, scores.pop(link.finding.number, link.score), link)
        for link in sorted(submission.finding_links, key=lambda link: link.finding.number)
    ]
    if notice is not None and scores:
        by_number = {f.number: f for f in notice.findings}
        rows += [FindingRow(by_number[n], s, None) for n, s in scores.items() if n in by_number]
    return rows


def confirm_finding(
    submission: Submission, finding: Finding, *, actor: str, score: float | None = None
) -> SubmissionFinding:
    """A staff-confirmed link (also a learning example for the notice's Router)."""
    if finding.notice_id != submission.notice_id:
        raise ActionError("该问题不属于本意见所对应的公示。")
    link = next((x for x in submission.finding_links if x.finding_id == finding.id), None)
    if link is None:
        link = SubmissionFinding(finding=finding, score=score)
        submission.finding_links.append(link)
    link.source, link.confirmed, link.by, link.at = "staff", True, actor, utcnow()
    db.session.flush()
    audit.record(
        "triage.finding.confirm",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "finding": finding.number, "score": score},
        actor=actor,
    )
    return link


def remove_finding(submission: Submission, finding: Finding, *, actor: str) -> None:
    db.session.execute(
        delete(SubmissionFinding).where(
            SubmissionFinding.submission_id == submission.id,
            SubmissionFinding.finding_id == finding.id,
        )
    )
    db.session.expire(submission, ["finding_links"])
    audit.record(
        "triage.finding.remove",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "finding": finding.number},
        actor=actor,
    )


# --- notes, assignment --------------------------------------------------------------------------


def add_note(submission: Submission, body: str, *, user: User) -> Note:
    text = normalise_text(body or "").strip()
    if not text:
        raise ActionError("备注不能为空。")
    if len(text) > 5000:
        raise ActionError("备注不能超过5000字。")
    note = Note(
        submission_id=submission.id,
        body=text,
        actor=user.actor,
        author_name=user.display_name or user.email,
    )
    db.session.add(note)
    db.session.flush()
    audit.record(
        "triage.note",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "note_id": note.id},
        actor=user.actor,
    )
    return note


def assignable_users() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(("admin", "triager")))
            .order_by(User.display_name, User.email)
        )
    )


def assign(submission: Submission, user: User | None, *, actor: str) -> Assignment | None:
    """Set (or clear, user None) the assignee; None when nothing changes."""
    new_id = user.id if user is not None else None
    if user is not None and (not user.active or not user.has_role("triager")):
        raise ActionError("只能分派给在岗的办理人员。")
    if submission.assignee_id == new_id:
        return None
    record = Assignment(
        submission_id=submission.id,
        user_id=new_id,
        previous_user_id=submission.assignee_id,
        actor=actor,
    )
    submission.assignee_id = new_id
    db.session.add(record)
    db.session.flush()
    audit.record(
        "triage.assign",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "to": new_id, "from": record.previous_user_id},
        actor=actor,
    )
    return record


# --- duplicates and referral --------------------------------------------------------------------


def merge_duplicate(
    submission: Submission,
    original: Submission,
    *,
    actor: str,
    reason: str,
    similarity: float | None = None,
) -> DuplicateLink:
    """Mark ``submission`` a duplicate of ``original``: both kept, linked, status duplicate."""
    if original.id == submission.id:
        raise ActionError("不能将意见标记为自身的重复。")
    if original.status == "duplicate":
        raise ActionError(f"{original.code} 本身已是重复意见，请选择原始意见。")
    workflow.change_status(submission, "duplicate", actor=actor, reason=reason)
    db.session.execute(delete(DuplicateLink).where(DuplicateLink.submission_id == submission.id))
    link = DuplicateLink(
        submission_id=submission.id, original_id=original.id, similarity=similarity, actor=actor
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        "triage.merge",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "original": original.code, "similarity": similarity},
        actor=actor,
    )
    return link


def duplicate_links(submission: Submission) -> tuple[DuplicateLink | None, list[DuplicateLink]]:
    """(this submission's original, submissions merged into this one)."""
    mine = db.session.scalar(
        select(DuplicateLink).where(DuplicateLink.submission_id == submission.id)
    )
    merged = list(
        db.session.scalars(
            select(DuplicateLink)
            .where(DuplicateLink.original_id == submission.id)
            .order_by(DuplicateLink.id)
        )
    )
    return mine, merged


def refer(
    submission: Submission,
    *,
    body_name: str,
    contact: str | None,
    note: str | None,
    reason: str,
    actor: str,
    email_to: str | None = None,
    letter: bool = False,
) -> Referral:
    """转办: record the referral, change status to referred, optionally mail the other body."""
    from flask import current_app, render_template

    from portal.outbox import enqueue

    name = normalise_text(body_name or "").strip()
    if not name:
        raise ActionError("请填写转办单位。")
    workflow.change_status(submission, "referred", actor=actor, reason=reason)
    referral = Referral(
        submission_id=submission.id,
        body_name=name[:200],
        contact=normalise_text(contact or "").strip()[:300] or None,
        note=normalise_text(note or "").strip()[:5000] or None,
        letter=letter,
        actor=actor,
    )
    db.session.add(referral)
    db.session.flush()
    if email_to:
        message = enqueue(
            to=email_to,
            subject=f"[#{submission.code}] 转办函：群众意见转{name}办理",
            text=render_template(
                "triage/referral.txt",
                submission=submission,
                referral=referral,
                office_name=current_app.config.get("OFFICE_NAME", ""),
            ),
            submission_id=submission.id,
            submission_code=submission.code,
            kind="referral",
        )
        referral.email_sent, referral.outbox_id = True, message.id
    audit.record(
        "triage.referral",
        object_type="submission",
        object_id=submission.id,
        details={
            "code": submission.code,
            "body": referral.body_name,
            "email": bool(email_to),
            "letter": letter,
        },
        actor=actor,
    )
    return referral


# --- personal data --------------------------------------------------------------------------


def masked_personal_data(submission: Submission) -> dict[str, str]:
    return {
        name: _MASKS[name](getattr(submission, name))
        for name in PERSONAL_FIELDS
        if getattr(submission, name)
    }


def reveal_personal_data(submission: Submission, reason: str, *, actor: str) -> dict[str, str]:
    """The clear personal data, after writing the audit event that says who looked and why."""
    cleaned = normalise_text(reason or "").strip()
    if len(cleaned) < 2:
        raise ActionError("查看个人信息须填写理由。")
    values = {name: getattr(submission, name) for name in PERSONAL_FIELDS}
    shown = {k: v for k, v in values.items() if v}
    audit.record(
        "personal_data.view",
        object_type="submission",
        object_id=submission.id,
        details={"reason": cleaned[:500], "fields": sorted(shown), "code": submission.code},
        actor=actor,
    )
    return shown


# --- history -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status, note, follow_up, reply, assignment, referral, merge, event
    title: str
    body: str | None = None
    actor: str | None = None


# Audit actions shown through their own richer rows instead.
_COVERED_EVENTS = frozenset(
    {
        "submission.status",
        "triage.note",
        "triage.assign",
        "triage.referral",
        "triage.merge",
        "submission.follow_up",
    }
)


def _user_names(ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    users = db.session.scalars(select(User).where(User.id.in_(wanted)))
    return {u.id: u.display_name or u.email for u in users}


def timeline(submission: Submission) -> list[TimelineEntry]:
    """Everything that happened to a submission, oldest first (staff only)."""
    entries: list[TimelineEntry] = [
        TimelineEntry(
            submission.received_at, "received", _("收到（%(channel)s）", channel=submission.channel)
        )
    ]
    sid = submission.id
    for change in db.session.scalars(select(StatusChange).where(StatusChange.submission_id == sid)):
        title = _(
            "状态：%(old)s → %(new)s",
            old=workflow.label(change.old),
            new=workflow.label(change.new),
        )
        entries.append(TimelineEntry(change.at, "status", title, change.reason, change.actor))
    for note in db.session.scalars(select(Note).where(Note.submission_id == sid)):
        entries.append(TimelineEntry(note.at, "note", _("内部备注"), note.body, note.author_name))
    for follow_up in db.session.scalars(select(FollowUp).where(FollowUp.submission_id == sid)):
        title = _("补充（%(channel)s）", channel=follow_up.channel)
        entries.append(
            TimelineEntry(follow_up.at, "follow_up", title, follow_up.body, follow_up.author)
        )
    assignments = list(
        db.session.scalars(select(Assignment).where(Assignment.submission_id == sid))
    )
    names = _user_names([a.user_id for a in assignments])
    for a in assignments:
        who = names.get(a.user_id or 0, _("（无人）"))
        entries.append(
            TimelineEntry(a.at, "assignment", _("分派给 %(who)s", who=who), None, a.actor)
        )
    for r in db.session.scalars(select(Referral).where(Referral.submission_id == sid)):
        body = "\n".join(p for p in (r.contact, r.note) if p) or None
        mailed = r.email_sent
        entries.append(
            TimelineEntry(
                r.at,
                "referral",
                (
                    _("转办至 %(body)s（已发函）", body=r.body_name)
                    if mailed
                    else _("转办至 %(body)s", body=r.body_name)
                ),
                body,
                r.actor,
            )
        )
    entries += _reply_entries(sid)
    entries += _event_entries(sid)
    entries.sort(key=lambda e: as_utc(e.at))
    return entries


def _reply_entries(submission_id: int) -> list[TimelineEntry]:
    rows = db.session.scalars(select(Reply).where(Reply.submission_id == submission_id))
    return [TimelineEntry(r.created_at, "reply", _("答复"), r.body) for r in rows]


def _event_entries(submission_id: int) -> list[TimelineEntry]:
    events = db.session.scalars(
        select(audit.Event)
        .where(audit.Event.object_type == "submission", audit.Event.object_id == str(submission_id))
        .order_by(audit.Event.seq)
    )
    out = []
    for event in events:
        if event.action in _COVERED_EVENTS:
            continue
        details = event.details or {}
        body = details.get("reason") if event.action == "personal_data.view" else None
        out.append(
            TimelineEntry(
                event.at,
                "event",
                str(EVENT_LABELS.get(event.action, event.action)),
                body,
                event.actor,
            )
        )
    return out


EVENT_LABELS = {
    "submission.record": _l("登记"),
    "personal_data.view": _l("查看个人信息"),
    "triage.finding.confirm": _l("确认关联问题"),
    "triage.finding.remove": _l("移除关联问题"),
}
