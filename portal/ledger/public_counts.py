"""The per-office counts on the public home and office pages (received, replied).

With a fresh oversight snapshot (a deployment whose cron runs `flask oversight refresh`) they
come from it, one small read however many submissions there are; otherwise one grouped query.
Either way the public pages keep the result per worker for a minute (notices.feedback_counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import exists, func, select

from portal.extensions import db
from portal.intake.models import Submission
from portal.ledger import oversight
from portal.ledger.models import OfficeFigures
from portal.notices.feedback_counts import FeedbackCounts
from portal.triage.models import Reply

DEFAULT_MAX_AGE = 300.0


def _from_snapshot() -> dict[int, FeedbackCounts]:
    rows = db.session.execute(
        select(OfficeFigures.office_id, OfficeFigures.received, OfficeFigures.answered).where(
            OfficeFigures.round_id.is_(None), OfficeFigures.office_id.is_not(None)
        )
    )
    return {
        office: FeedbackCounts(received, answered)
        for office, received, answered in rows
        if office is not None
    }


def _counted() -> dict[int, FeedbackCounts]:
    answered = exists().where(Reply.submission_id == Submission.id)
    rows = db.session.execute(
        select(
            Submission.office_id,
            func.count(Submission.id),
            func.count(Submission.id).filter(answered),
        )
        .where(Submission.status != "spam", Submission.office_id.is_not(None))
        .group_by(Submission.office_id)
    )
    return {
        office: FeedbackCounts(received, replied)
        for office, received, replied in rows
        if office is not None
    }


def office_feedback_counts() -> Mapping[int, FeedbackCounts]:
    max_age = float(current_app.config.get("OVERSIGHT_MAX_AGE", DEFAULT_MAX_AGE))
    at = oversight.computed_at()
    if at is not None and (datetime.now(UTC) - at).total_seconds() < max_age:
        return _from_snapshot()
    return _counted()
