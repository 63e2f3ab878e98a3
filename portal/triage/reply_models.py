"""Replies to submitters and the canned texts staff start them from.

A Reply is the office's answer, sent on the submitter's channel (email through the outbox, a
printable letter for postal submitters) and always readable on /track. When staff ask for it,
an anonymised copy (the question and the answer) may appear on the notice page, but only after
an editor has approved it: ``public_state`` goes none -> pending -> approved | rejected.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.intake.models import Submission
from portal.notices.models import Finding
from portal.workdays import utcnow

REPLY_CHANNELS = ("email", "letter", "track")  # track: readable on /track only
PUBLIC_STATES = ("none", "pending", "approved", "rejected")


class Reply(db.Model):
    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    # Publication on the notice page (anonymised; an editor approves first).
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


class CannedReply(db.Model):
    """A reusable reply text; finding_id None means it fits any submission."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
