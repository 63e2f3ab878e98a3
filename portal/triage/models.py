"""Triage records: replies and canned replies, status history, internal notes, assignments,
saved views, referrals, duplicate links, dismissed suggestions and the search text of each
submission.

Everything here is staff-only: nothing in these tables is ever shown on /track.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.intake.models import Submission
from portal.notices.models import Finding
from portal.workdays import utcnow


class StatusChange(Model):
    """One step of a submission's workflow (written by workflow.change_status only)."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    old: Mapped[str] = mapped_column(String(20))
    new: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    submission: Mapped[Submission] = relationship()


class Note(Model):
    """An internal note: staff only, never shown to the submitter."""

    __tablename__ = "triage_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assignment(Model):
    """Assignment history; the current assignee is Submission.assignee_id."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    previous_user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SavedView(Model):
    """A named queue filter (its query string) belonging to one staff user."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Referral(Model):
    """转办: the submission was passed to another body."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    body_name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    email_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    letter: Mapped[bool] = mapped_column(Boolean, default=False)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DuplicateLink(Model):
    """``submission`` was merged as a duplicate of ``original``; both are kept."""

    __tablename__ = "duplicate_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    original_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    similarity: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    submission: Mapped[Submission] = relationship(foreign_keys=[submission_id])
    original: Mapped[Submission] = relationship(foreign_keys=[original_id])


class FindingDismissal(Model):
    """Staff judged a suggested finding wrong for this submission: it is no longer suggested."""

    __tablename__ = "finding_dismissals"
    __table_args__ = (UniqueConstraint("submission_id", "finding_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SubmissionSearch(Model):
    """Searchable text of a submission (subject, body, follow-ups, replies), NFKC-normalised.

    The full-text index on it is created by portal.triage.search (FTS5 trigram on SQLite,
    pg_trgm GIN on PostgreSQL); rows are kept current by ORM events there.
    """

    __tablename__ = "submission_search"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    text: Mapped[str] = mapped_column(Text, default="")


class DigestSent(Model):
    """One row per (user, local day): `flask triage digest` run twice sends once."""

    __tablename__ = "digests_sent"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    outbox_id: Mapped[int | None] = mapped_column(Integer)


class Reply(Model):
    """The office's answer, sent on the submitter's channel and always readable on /track; an
    anonymised copy may appear on the notice page after an editor approves it."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(10))  # email, letter, or track (/track only)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    # Publication on the notice page: public_state none -> pending -> approved | rejected.
    public_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    public_state: Mapped[str] = mapped_column(String(10), default="none", index=True)
    public_finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("findings.id", ondelete="SET NULL"), index=True
    )
    public_question: Mapped[str | None] = mapped_column(Text)  # the submission, anonymised
    public_text: Mapped[str | None] = mapped_column(Text)  # the reply, anonymised
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reject_reason: Mapped[str | None] = mapped_column(Text)

    submission: Mapped[Submission] = relationship()
    public_finding: Mapped[Finding | None] = relationship()

    @property
    def at(self) -> datetime:
        """When it was sent (the name /track templates use)."""
        return self.created_at

    def __repr__(self) -> str:
        return f"<Reply {self.id} {self.channel} {self.public_state}>"


class CannedReply(Model):
    """A reusable reply text of one office; finding_id None means it fits any of the office's
    submissions. A retired one is kept (replies may have started from it) but no longer offered.
    """

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    finding: Mapped[Finding | None] = relationship()
