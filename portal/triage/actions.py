"""What staff do to a submission: note, assign, merge a duplicate, refer (转办).

Each function writes its rows and an audit event in the caller's transaction and never
commits; views commit once per request. Status changes go through workflow.change_status;
linking findings is in findings.py, the personal-data reveal in reveal.py.

A submission belongs to one office: it is assigned only to a triager of that office (or an
admin), merged only into a submission of the same office, and a referral letter is signed by
that office.
"""

from __future__ import annotations

from flask import render_template
from sqlalchemy import delete, exists, or_, select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.intake.sanitize import normalise_text
from portal.offices.service import letter_identity
from portal.outbox import enqueue
from portal.staff.models import Membership, User
from portal.triage import workflow
from portal.triage.models import Assignment, DuplicateLink, Note, Referral

NOTE_MAX = 5000


class ActionError(ValueError):
    """A request staff can correct (message in Chinese)."""


# --- notes, assignment --------------------------------------------------------------------------


def add_note(submission: Submission, body: str, *, user: User) -> Note:
    text = normalise_text(body or "").strip()
    if not text:
        raise ActionError("备注不能为空。")
    if len(text) > NOTE_MAX:
        raise ActionError(f"备注不能超过{NOTE_MAX}字。")
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


def assignable_users(offices: frozenset[int] | None = None) -> list[User]:
    """Active admins and triagers of ``offices`` (None: of any office), by name."""
    triager = exists().where(
        Membership.user_id == User.id,
        Membership.role == "triager",
        *([Membership.office_id.in_(sorted(offices))] if offices is not None else []),
    )
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), or_(User.role == "admin", triager))
            .order_by(User.display_name, User.email)
        )
    )


def assignable_for(submission: Submission) -> list[User]:
    """Who may be assigned this submission: its office's triagers and the admins."""
    office = submission.office_id
    return assignable_users(frozenset({office}) if office is not None else frozenset())


def assign(submission: Submission, user: User | None, *, actor: str) -> Assignment | None:
    """Set (or clear, user None) the assignee; None when nothing changes. Only an active
    triager of the submission's office (or an admin) may be assigned."""
    new_id = user.id if user is not None else None
    if user is not None and (
        not user.active or "triager" not in user.office_roles(submission.office_id)
    ):
        raise ActionError("只能分派给本单位在岗的办理人员。")
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
    if original.office_id != submission.office_id:
        raise ActionError("只能合并同一单位的意见。")
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
                office_name=letter_identity(submission.office)["office_name"],
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
