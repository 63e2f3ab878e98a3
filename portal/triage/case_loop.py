"""What a submitter's follow-up does to the case (registered with intake.follow_ups): after an
answer it raises the case as "follow_up" (新追问) so it never sits unseen under 已答复; while
staff wait for the submitter (等待补充) it is the answer and restarts the clock. Also the counts
of raised cases for the staff home page."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.intake.models import FollowUp, Submission
from portal.triage import pauses, workflow
from portal.triage.merged import original_of
from portal.workdays import WorkCalendar, local_today

SUBMITTER = "submitter"


def on_follow_up(follow_up: FollowUp) -> None:
    # A merged citizen's follow-up concerns the case their answer comes from.
    submission = original_of(follow_up.submission) or follow_up.submission
    if submission.status in ("replied", "closed"):
        workflow.change_status(
            submission, "follow_up", actor=SUBMITTER, reason="群众在答复后继续追问"
        )
    elif submission.status == "waiting":
        pauses.resume(
            submission,
            today=local_today(),
            calendar=WorkCalendar.from_config(current_app.config),
            actor=SUBMITTER,
            follow_up=follow_up,
        )


def raised_counts(office_ids: frozenset[int] | None = None) -> dict[str, int]:
    """How many cases the submitters raised again, per status (follow_up, reopened), of
    ``office_ids`` (None: every office). For the staff home page."""
    query = (
        select(Submission.status, func.count())
        .where(Submission.status.in_(sorted(workflow.RAISED_STATUSES)))
        .group_by(Submission.status)
    )
    if office_ids is not None:
        query = query.where(Submission.office_id.in_(sorted(office_ids)))
    counts = {status: 0 for status in sorted(workflow.RAISED_STATUSES)}
    counts.update({status: int(n) for status, n in db.session.execute(query).all()})
    return counts
