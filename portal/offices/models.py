"""Office (被巡察单位) and Round (巡察轮次)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.personal_data import EncryptedText
from portal.workdays import utcnow


class Office(Model):
    """An inspected unit: its public identity, its letterhead, its mailbox, its deadlines."""

    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60), default="")
    # The office every row of a one-office deployment belonged to; there is exactly one.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_phone: Mapped[str | None] = mapped_column(String(80))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_address: Mapped[str | None] = mapped_column(String(300))
    contact_postcode: Mapped[str | None] = mapped_column(String(12))
    # Printed letters: the heading line and the return address on envelopes and labels.
    letterhead: Mapped[str | None] = mapped_column(String(200))
    return_address: Mapped[str | None] = mapped_column(String(300))
    return_postcode: Mapped[str | None] = mapped_column(String(12))
    # Inbound mail: addresses of this office on a shared mailbox (one per line), and the
    # office's own IMAP mailbox when it has one.
    mail_addresses: Mapped[str] = mapped_column(Text, default="")
    imap_host: Mapped[str | None] = mapped_column(String(255))
    imap_port: Mapped[int | None] = mapped_column(Integer)
    imap_user: Mapped[str | None] = mapped_column(String(255))
    imap_password: Mapped[str | None] = mapped_column(EncryptedText)
    imap_folder: Mapped[str | None] = mapped_column(String(255))
    imap_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    imap_starttls: Mapped[bool] = mapped_column(Boolean, default=False)
    imap_move_to: Mapped[str | None] = mapped_column(String(255))
    # Working-day deadlines; None takes the deployment's ACK/REPLY_WITHIN_WORKDAYS.
    ack_within_workdays: Mapped[int | None] = mapped_column(Integer)
    reply_within_workdays: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    @property
    def addresses(self) -> list[str]:
        return [a.strip().lower() for a in self.mail_addresses.splitlines() if a.strip()]

    @property
    def has_mailbox(self) -> bool:
        return bool(self.imap_host and self.imap_user)

    def __repr__(self) -> str:
        return f"<Office {self.slug}>"


class Round(Model):
    """One inspection round (第N轮巡察) of the city's inspection office."""

    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    inspection_group: Mapped[str | None] = mapped_column(String(200))  # 巡察组
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"<Round {self.slug}>"
