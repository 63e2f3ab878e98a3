"""Who was merged into whom: a duplicate's original (whose progress its submitter follows) and
the submissions merged into an original (who hear its answers), and an answer as a merged
citizen reads it."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.triage.models import DuplicateLink


def merged_into(original: Submission) -> list[Submission]:
    """The submissions merged as duplicates of ``original``, oldest first."""
    return list(
        db.session.scalars(
            select(Submission)
            .join(DuplicateLink, DuplicateLink.submission_id == Submission.id)
            .where(DuplicateLink.original_id == original.id, Submission.status == "duplicate")
            .order_by(Submission.id)
        )
    )


def original_of(submission: Submission) -> Submission | None:
    """The case a duplicate was merged into (its progress is the duplicate's progress)."""
    if submission.status != "duplicate":
        return None
    return db.session.scalar(
        select(Submission)
        .join(DuplicateLink, DuplicateLink.original_id == Submission.id)
        .where(DuplicateLink.submission_id == submission.id)
        .order_by(DuplicateLink.id.desc())
        .limit(1)
    )


HIDDEN_CONTACT = "[已隐去]"


def for_merged(text: str, original: Submission) -> str:
    """The answer as a merged citizen reads it: the original submitter's own name, phone,
    email and address (if the answer repeats them) hidden."""
    for value in (
        original.contact_name,
        original.contact_phone,
        original.contact_email,
        original.contact_address,
        original.sender_email,
    ):
        if value and len(value.strip()) >= 2:
            text = text.replace(value.strip(), HIDDEN_CONTACT)
    return text
