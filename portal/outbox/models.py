"""Mail waiting to be sent, written in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.personal_data import EncryptedText
from portal.workdays import utcnow

STATUSES = ("queued", "sending", "sent", "failed", "dead", "bounced")


class OutboxMessage(Model):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="ack", index=True)
    # The recipient and the texts are personal data (replies quote the citizen): encrypted.
    to: Mapped[str] = mapped_column(EncryptedText)
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(EncryptedText)
    html: Mapped[str | None] = mapped_column(EncryptedText)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    auto_submitted: Mapped[str | None] = mapped_column(String(40))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), index=True
    )
    # The receipt code, given by the caller: the outbox sits below intake and never reads it.
    submission_code: Mapped[str | None] = mapped_column(String(11))
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    # While "sending": nobody else may claim the row before lease_until; claim_token says who.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
