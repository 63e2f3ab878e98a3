"""A published notice and its findings: what every other feature links to."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from portal.extensions import Model
from portal.offices.models import Office, Round
from portal.workdays import utcnow


class Notice(Model):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    # The office that publishes it (被巡察单位) and the round whose findings it answers.
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("rounds.id", ondelete="SET NULL"), index=True
    )
    # draft -> published -> withdrawn (a withdrawn notice answers 410)
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    preamble: Mapped[str] = mapped_column(Text, default="")
    closing: Mapped[str] = mapped_column(Text, default="")
    # Sections in published order: [{number, title, body, kind, subsections: [{number, title,
    # body}]}] where kind is "narrative", "findings" (rendered from the category rows) or "plan".
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    contact_phone: Mapped[str | None] = mapped_column(String(80))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_address: Mapped[str | None] = mapped_column(String(300))
    contact_postcode: Mapped[str | None] = mapped_column(String(12))
    signed_by: Mapped[str | None] = mapped_column(String(200))
    signed_on: Mapped[date | None] = mapped_column(Date)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The feedback window in UTC (shown and compared in Asia/Shanghai); open when unset.
    feedback_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    feedback_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on every change that alters a public page; part of ETag and cache keys.
    version: Mapped[int] = mapped_column(Integer, default=1)

    office: Mapped[Office] = relationship(lazy="joined")
    round: Mapped[Round | None] = relationship()
    categories: Mapped[list[Category]] = relationship(
        back_populates="notice", order_by="Category.number", cascade="all, delete-orphan"
    )
    findings: Mapped[list[Finding]] = relationship(
        back_populates="notice",
        order_by="Finding.number",
        cascade="all, delete-orphan",
        overlaps="category,findings",
    )
    revisions: Mapped[list[NoticeRevision]] = relationship(
        back_populates="notice", order_by="NoticeRevision.number", cascade="all, delete-orphan"
    )


class NoticeRevision(Model):
    """Every imported or edited source text, so changes can be diffed and audited."""

    __tablename__ = "notice_revisions"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
    # The editor's change note (修订说明), shown publicly with "修订于" on a revised notice.
    note: Mapped[str | None] = mapped_column(String(300))
    # Line roles the editor gave in the preview ({"<line number>": role}); a later revision of the
    # same text starts from them, so a correction is made once.
    line_roles: Mapped[dict[str, str] | None] = mapped_column(JSON)

    notice: Mapped[Notice] = relationship(back_populates="revisions")


class Category(Model):
    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)

    notice: Mapped[Notice] = relationship(back_populates="categories")
    findings: Mapped[list[Finding]] = relationship(
        back_populates="category", order_by="Finding.number", overlaps="findings,notice"
    )


class Finding(Model):
    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    # The source's own numbering as written ("3", "（1）", "问题2"); number stays unique.
    label: Mapped[str] = mapped_column(String(40), default="")
    # The problem as the notice describes it before 整改情况：
    description: Mapped[str] = mapped_column(Text, default="")
    # The status as published in the notice's text (e.g. 已完成整改), or as set by an editor.
    status: Mapped[str | None] = mapped_column(String(40))
    # False when a later revision of the notice no longer lists this finding; kept for links.
    active: Mapped[bool] = mapped_column(default=True)

    notice: Mapped[Notice] = relationship(back_populates="findings", overlaps="findings")
    category: Mapped[Category | None] = relationship(
        back_populates="findings", overlaps="findings,notice"
    )
    measures: Mapped[list[Measure]] = relationship(
        back_populates="finding", order_by="Measure.number", cascade="all, delete-orphan"
    )


class Measure(Model):
    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("finding_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # The measure's own marker (已完成, 持续推进…) when the notice gives each one.
    status: Mapped[str | None] = mapped_column(String(40))

    finding: Mapped[Finding] = relationship(back_populates="measures")


FINDING_STATUSES = ("未整改", "整改中", "已完成", "长期坚持")


class FindingStatusChange(Model):
    """One dated, public step in a finding's rectification status (append only)."""

    __tablename__ = "finding_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(40))
    # The date the office states for this step (shown publicly), and a short public note.
    effective_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")

    finding: Mapped[Finding] = relationship(
        backref=backref(
            "status_history",
            order_by="(FindingStatusChange.effective_on, FindingStatusChange.id)",
            cascade="all, delete-orphan",
            passive_deletes=True,
        )
    )
