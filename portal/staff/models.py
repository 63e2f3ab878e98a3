"""Staff accounts: who may enter the back office, with which role and which second factor."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.offices.models import Office
from portal.workdays import as_utc, utcnow

# Roles held for the whole deployment (User.role) ...
GLOBAL_ROLES = ("admin", "supervisor")
# ... and roles held per office (Membership.role); such users have User.role == "staff".
OFFICE_ROLES = ("editor", "triager", "viewer")
ROLES = (*GLOBAL_ROLES, *OFFICE_ROLES)
STAFF = "staff"
ROLE_LABELS = {
    "admin": _l("管理员"),
    "supervisor": _l("巡察办督查"),
    "editor": _l("编辑"),
    "triager": _l("办理人员"),
    "viewer": _l("只读"),
    "staff": _l("单位工作人员"),
}
# What a supervisor may do in every office: read, never write.
SUPERVISOR_OFFICE_ROLES = frozenset({"viewer"})


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    password_hash: Mapped[str] = mapped_column(String(200))
    # Base32 TOTP secret; the factor counts only once confirmed (totp_confirmed_at set).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Time-step counter of the last accepted code: a code is never accepted twice.
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # argon2 hashes
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Part of the Flask-Login id: rotating it ends every session of this account at once
    # (logout, disable, password change, 2FA reset).
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret and self.totp_confirmed_at)

    @property
    def role_label(self) -> str:
        if self.role != STAFF:
            return str(ROLE_LABELS.get(self.role, self.role))
        return "；".join(m.label for m in self.memberships) or str(ROLE_LABELS[STAFF])

    @property
    def roles(self) -> frozenset[str]:
        """Every role this user holds anywhere: the global one and each office's."""
        if self.role == "supervisor":
            return frozenset({"supervisor"}) | SUPERVISOR_OFFICE_ROLES
        if self.role == STAFF:
            return frozenset(m.role for m in self.memberships)
        return frozenset({self.role})

    def office_roles(self, office_id: int | None) -> frozenset[str]:
        """The roles this user holds in one office (admin: all; supervisor: read-only)."""
        if self.role == "admin":
            return frozenset(OFFICE_ROLES)
        if self.role == "supervisor":
            return SUPERVISOR_OFFICE_ROLES
        return frozenset(m.role for m in self.memberships if m.office_id == office_id)

    @property
    def actor(self) -> str:
        """The audit log's name for this user (same form as audit.current_actor)."""
        return f"user:{self.id}:{self.email}"

    def has_role(self, *roles: str) -> bool:
        """Holds one of ``roles`` somewhere (admin holds every role)."""
        return self.role == "admin" or not self.roles.isdisjoint(roles)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and as_utc(self.locked_until) > now


class Membership(Model):
    """One office role of one user: editor, triager or viewer of that office."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "office_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    office: Mapped[Office] = relationship(lazy="joined")

    @property
    def label(self) -> str:
        return f"{self.office.display_name}·{ROLE_LABELS.get(self.role, self.role)}"
