"""Follow-ups: more text or files on an existing submission (the tracking page, a reply mail,
a call), recorded like a submission: checked, stored, audited and committed as one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def add_follow_up(
    submission: Submission,
    *,
    body: str,
    channel: str,
    attachments: Sequence[IncomingFile] = (),
    author: str = "submitter",
    message_id: str | None = None,
    actor: str | None = None,
    before_commit: Callable[[FollowUp], None] | None = None,
) -> FollowUp:
    """Add information or files to an existing submission and commit.

    ``before_commit`` receives the flushed follow-up and may add the caller's own rows (the
    inbound mail's record) to the same transaction.
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
        )
        db.session.add(follow_up)
        for item in checked:
            db.session.add(attachment_row(item, submission_id=submission.id, follow_up=follow_up))
        db.session.flush()
        audit.record(
            "submission.follow_up",
            object_type="submission",
            object_id=submission.id,
            details={"channel": channel, "author": author, "attachments": len(checked)},
            actor=actor,
        )
        if before_commit is not None:
            before_commit(follow_up)
        db.session.commit()
    except BaseException:
        discard(store)
        raise
    store.after_commit()
    return follow_up
