"""The case's life after the receipt: the submitter's rating of an answer, the pauses of the
reply clock while staff wait for the submitter, and "this was not me" disputes.

Ratings and pauses are shown on /track to the holder of the secret; disputes are staff-only.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.intake.models import Submission
from portal.workdays import utcnow


class Rating(Model):
    """好差评: the submitter's verdict on the answer (satisfied, basically_satisfied,
    unsatisfied). An unsatisfied one reopens the case with its own escalation deadline."""

    __tablename__ = "case_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    # The answer rated: its author is the staff member the rating counts for.
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rating: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))  # track, email (signed link), staff
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    escalation_due_on: Mapped[date | None] = mapped_column(Date)

    submission: Mapped[Submission] = relationship()


class Pause(Model):
    """等待补充: staff asked the submitter a question; the reply clock stops from asked_on until
    the answer, and the deadline then moves by the working days it stood still."""

    __tablename__ = "case_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    asked_by: Mapped[str] = mapped_column(String(200))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    asked_on: Mapped[date] = mapped_column(Date)  # local day the clock stopped
    resumed_on: Mapped[date | None] = mapped_column(Date)
    paused_workdays: Mapped[int | None] = mapped_column(Integer)
    due_before: Mapped[date | None] = mapped_column(Date)
    due_after: Mapped[date | None] = mapped_column(Date)
    follow_up_id: Mapped[int | None] = mapped_column(
        ForeignKey("follow_ups.id", ondelete="SET NULL")
    )

    submission: Mapped[Submission] = relationship()


class IdentityDispute(Model):
    """“This was not me”: someone says their name or contact was used on an opinion they did
    not send. While open, the submission's personal data is masked everywhere."""

    __tablename__ = "identity_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(10))  # email (signed link) or staff
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    submission: Mapped[Submission] = relationship()
