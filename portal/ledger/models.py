"""The supervisor's oversight snapshot and the lease that lets one worker at a time recompute it.

Counting ten million submissions per page view cannot answer in 200 ms, so the figures are
computed by portal.ledger.oversight.refresh_figures() (GROUP BY queries) into one row per
(office, round-or-every-round) and the page reads those rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.workdays import utcnow


class OfficeFigures(Model):
    """One office's figures in one round (round_id None: every round together). office_id None
    holds the unrouted submissions, which no office answers yet."""

    __tablename__ = "oversight_figures"
    # The page reads one round's rows (or the every-round rows) at a time.
    __table_args__ = (Index("ix_oversight_figures_round_office", "round_id", "office_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    received: Mapped[int] = mapped_column(Integer, default=0)  # spam left out
    open: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)  # has a first reply
    answered_in_time: Mapped[int] = mapped_column(Integer, default=0)
    # [[finding title, opinions], ...] most opinions first, at most three.
    top_findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Titles of published notices none of whose findings changed status since publication.
    silent_notices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def in_time_share(self) -> float | None:
        return self.answered_in_time / self.answered if self.answered else None


class OversightLease(Model):
    """A named lease like the mail fetcher's: whoever holds an unexpired one recomputes."""

    __tablename__ = "oversight_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
