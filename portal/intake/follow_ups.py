"""Follow-ups: more text or files on an existing submission (the tracking page, a reply mail,
a call), recorded like a submission: checked, stored, audited and committed as one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake.models import FollowUp, Submission
from portal.intake.service import (
    DuplicateSubmission,
    IncomingFile,
    SubmissionRejected,
    attachment_row,
    discard,
    require_channel,
)
from portal.intake.validation import check_attachments, check_follow_up_body
from portal.workdays import utcnow

# Triage (a layer above) registers what a submitter's follow-up does to the case: reopen a
# replied one, resume a paused clock. Called in the follow-up's transaction, before commit.
FollowUpHook = Callable[[FollowUp], None]
_hooks: list[FollowUpHook] = []


def register_follow_up_hook(hook: FollowUpHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def add_follow_up(
    submission: Submission,
    *,
    body: str,
    channel: str,
    attachments: Sequence[IncomingFile] = (),
    author: str = "submitter",
    message_id: str | None = None,
    review_state: str | None = None,
    actor: str | None = None,
    before_commit: Callable[[FollowUp], None] | None = None,
) -> FollowUp:
    """Add information or files to an existing submission and commit.

    ``before_commit`` receives the flushed follow-up and may add the caller's own rows (the
    inbound mail's record) to the same transaction. ``review_state="held"``: staff must accept
    it before it counts as the submitter's (a mail from another address).
    """
    require_channel(channel)
    message_id = (message_id or "").strip() or None
    if message_id:
        exists = db.session.scalar(
            select(FollowUp.id).where(FollowUp.message_id == message_id)
        ) or db.session.scalar(select(Submission.id).where(Submission.message_id == message_id))
        if exists:
            raise DuplicateSubmission(submission.code)
    errors: dict[str, str] = {}
    checked = check_attachments(attachments, errors)
    text = check_follow_up_body(body, channel, bool(checked), errors)
    if errors:
        db.session.rollback()
        raise SubmissionRejected(errors)

    store = files.StoreTransaction()
    try:
        for item in checked:
            store.store(item)
        follow_up = FollowUp(
            submission=submission,
            at=utcnow(),
            channel=channel,
            author=author,
            body=text,
            message_id=message_id,
            review_state=review_state,
        )
        db.session.add(follow_up)
        for item in checked:
            db.session.add(attachment_row(item, submission_id=submission.id, follow_up=follow_up))
        db.session.flush()
        audit.record(
            "submission.follow_up",
            object_type="submission",
            object_id=submission.id,
            details={
                "channel": channel,
                "author": author,
                "attachments": len(checked),
                **({"review": review_state} if review_state else {}),
            },
            actor=actor,
        )
        if before_commit is not None:
            before_commit(follow_up)
        if author == "submitter" and review_state is None:
            for hook in _hooks:
                hook(follow_up)
        db.session.commit()
    except BaseException:
        discard(store)
        raise
    store.after_commit()
    return follow_up


# Who a held follow-up is shown as once staff decide.
OTHER_SENDER = "email (other sender)"


def held_follow_ups(scope: Any = None, limit: int = 200) -> list[FollowUp]:
    """Mailed follow-ups waiting for staff, oldest first; ``scope`` limits their offices."""
    query = select(FollowUp).join(Submission).where(FollowUp.review_state == "held")
    if scope is not None:
        query = query.where(scope)
    return list(db.session.scalars(query.order_by(FollowUp.id).limit(limit)))


def review_follow_up(follow_up: FollowUp, *, accept: bool, actor: str | None) -> None:
    """Staff's decision on a held follow-up: accepted, it is the submitter's (shown on their
    /track); rejected, it stays on the case for staff only. Audited; commits."""
    if follow_up.review_state != "held":
        raise ValueError("not a held follow-up")
    follow_up.review_state = "accepted" if accept else "rejected"
    if accept:
        follow_up.author = "submitter"
        for hook in _hooks:
            hook(follow_up)
    audit.record(
        "submission.follow_up_review",
        object_type="submission",
        object_id=follow_up.submission_id,
        details={"follow_up": follow_up.id, "decision": follow_up.review_state},
        actor=actor,
    )
    db.session.commit()
