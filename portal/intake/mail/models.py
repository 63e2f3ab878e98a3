"""Inbound mail bookkeeping: every ingested message, each IMAP folder's mark, the fetcher lock."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Literal

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.offices.models import Office
from portal.personal_data import EncryptedText, decrypt_bytes, encrypt_bytes
from portal.workdays import utcnow

# A Fernet token always starts with its version byte 0x80 in base64; zlib data with 0x78.
_SEALED = b"gAAAAA"


def seal_raw(raw: bytes) -> bytes:
    """Raw mail as stored: compressed, then encrypted with the personal-data key (the sender's
    address, name and text are in it)."""
    return encrypt_bytes(zlib.compress(raw, 6))


def is_sealed(stored: bytes) -> bool:
    return bytes(stored).startswith(_SEALED)


def open_raw(stored: bytes) -> bytes:
    """Stored raw mail back to its bytes; rows from before encryption are zlib alone."""
    data = bytes(stored)
    return zlib.decompress(decrypt_bytes(data) if is_sealed(data) else data)


# What became of a message: the first word of the line `flask mail ingest` prints.
Outcome = Literal["recorded", "threaded", "duplicate", "ignored", "quarantined"]


class MailMessage(Model):
    """One distinct inbound message with its raw bytes (zlib), so decoding can be redone.

    The only copy of the raw mail: a recorded or released message points to its submission,
    a threaded one to the submission it added to."""

    __tablename__ = "mail_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    # Message-ID when there is one, else a hash of sender, date, subject and body.
    dedupe_key: Mapped[str] = mapped_column(String(200), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once staff deleted it
    size: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="pipe")
    outcome: Mapped[Outcome] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(11))
    # The office whose mailbox (or address on the shared mailbox) received it; None when
    # nobody could tell: only the inspection office sees those.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), index=True
    )
    # Personal data: the From address is encrypted; sender_hash (HMAC) serves rate limits.
    sender: Mapped[str | None] = mapped_column(EncryptedText)
    sender_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    # none; quarantined mail waits as pending until staff make it released or deleted.
    release_state: Mapped[str] = mapped_column(String(10), default="none", index=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(200))

    office: Mapped[Office | None] = relationship()

    @property
    def raw_bytes(self) -> bytes | None:
        return open_raw(self.raw) if self.raw is not None else None

    def __repr__(self) -> str:
        return f"<MailMessage {self.id} {self.outcome} {self.code or self.reason}>"


class MailboxState(Model):
    """How far one IMAP folder has been read: UIDs are only meaningful with their UIDVALIDITY."""

    __tablename__ = "mailbox_states"
    __table_args__ = (UniqueConstraint("host", "username", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class FetcherLock(Model):
    """A named lease: whoever holds an unexpired lease is the only fetcher (any database)."""

    __tablename__ = "fetcher_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
