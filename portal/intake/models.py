"""Submissions, their findings, attachments and follow-ups.

Contact fields and the sender address are EncryptedText: plain strings in Python, Fernet tokens
in the database (key in instance/pii.key), so a copied database does not reveal who complained.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.notices.models import Finding, Notice
from portal.offices.models import Office
from portal.personal_data import EncryptedText
from portal.workdays import utcnow

CHANNELS = ("web", "email", "letter", "phone", "visit", "box")
# How people read a channel, everywhere it is shown (lazy: rendered in the reader's language).
CHANNEL_LABELS = {
    "web": _l("网上"),
    "email": _l("电子邮件"),
    "letter": _l("信件"),
    "phone": _l("电话"),
    "visit": _l("来访"),
    "box": _l("意见箱"),
}
# Statuses a submission may be recorded with; the rest are reached through triage.
INITIAL_STATUSES = ("received", "held", "spam")


class Submission(Model):
    __tablename__ = "submissions"
    # The queue pages by (received_at, id) and (reply_due_on, id): keyset cursors need these
    # composite indexes, which also serve plain lookups on their first column.
    __table_args__ = (
        Index("ix_submissions_received_at_id", "received_at", "id"),
        Index("ix_submissions_reply_due_on_id", "reply_due_on", "id"),
        # The same pages within an office: a triager's queue reads only these.
        Index("ix_submissions_office_received", "office_id", "received_at", "id"),
        Index("ix_submissions_office_due", "office_id", "reply_due_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(11), unique=True)  # display form XXXXX-XXXXX
    secret_hash: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)  # sanitised (clean_html)
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL"), index=True
    )
    # The office that must answer; None while the inspection office has yet to route it.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    postmarked_on: Mapped[date | None] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contact_name: Mapped[str | None] = mapped_column(EncryptedText)
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText)
    contact_email: Mapped[str | None] = mapped_column(EncryptedText)
    contact_address: Mapped[str | None] = mapped_column(EncryptedText)
    sender_email: Mapped[str | None] = mapped_column(EncryptedText)
    # HMAC blind index of the sender (or contact) address: find a person's submissions
    # without decrypting every row.
    sender_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    message_id: Mapped[str | None] = mapped_column(String(500), unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    channel_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    ack_due_on: Mapped[date | None] = mapped_column(Date)
    reply_due_on: Mapped[date | None] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    notice: Mapped[Notice | None] = relationship()
    office: Mapped[Office | None] = relationship()
    finding_links: Mapped[list[SubmissionFinding]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="SubmissionFinding.id"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    follow_ups: Mapped[list[FollowUp]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="FollowUp.at"
    )

    @property
    def findings(self) -> list[Finding]:
        return sorted((link.finding for link in self.finding_links), key=lambda f: f.number)

    @property
    def finding_numbers(self) -> list[int]:
        return [finding.number for finding in self.findings]

    @property
    def email(self) -> str | None:
        """Where mail to the submitter goes: the contact address, else the From address."""
        return self.contact_email or self.sender_email

    def __repr__(self) -> str:
        return f"<Submission {self.code} {self.channel} {self.status}>"


class SubmissionFinding(Model):
    __tablename__ = "submission_findings"
    __table_args__ = (UniqueConstraint("submission_id", "finding_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(20), default="submitter")  # or staff, suggested
    score: Mapped[float | None] = mapped_column(Float)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by: Mapped[str | None] = mapped_column(String(200))

    submission: Mapped[Submission] = relationship(back_populates="finding_links")
    finding: Mapped[Finding] = relationship()


class FollowUp(Model):
    """More information on an existing submission (tracking page, a reply mail, a call)."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(200), default="submitter")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(500), unique=True)
    # None: the submitter's own; "held": mailed from an address other than the submission's
    # contact, waiting for staff (never shown on /track); "accepted" or "rejected" by staff.
    review_state: Mapped[str | None] = mapped_column(String(10), index=True)

    submission: Mapped[Submission] = relationship(back_populates="follow_ups")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="follow_up", order_by="Attachment.id", overlaps="attachments,submission"
    )


class Attachment(Model):
    """A file stored content-addressed under instance/uploads/<sha[:2]>/<sha>."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    follow_up_id: Mapped[int | None] = mapped_column(
        ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="attachments")
    follow_up: Mapped[FollowUp | None] = relationship(
        back_populates="attachments", overlaps="attachments,submission"
    )
