"""Staff accounts: who may enter the back office, with which role and which second factor."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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
    # Failures from every network together: past a threshold, logins from networks the account
    # never logged in from are refused until locked_until; its usual networks still get in.
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
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RecoveryCode.id"
    )
    webauthn_credentials: Mapped[list[WebAuthnCredential]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="WebAuthnCredential.id"
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
    def has_second_factor(self) -> bool:
        return self.has_totp or bool(self.webauthn_credentials)

    @property
    def recovery_codes_left(self) -> int:
        return sum(1 for code in self.recovery_codes if code.used_at is None)

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


class RecoveryCode(Model):
    """One single-use recovery code (argon2 hash); used_at is set by a compare-and-set UPDATE."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginNetwork(Model):
    """Login attempts of one account from one network (IPv4 /24, IPv6 /64): failures there
    slow down only that network; a successful login makes it one of the account's usual
    networks."""

    __tablename__ = "login_networks"
    __table_args__ = (UniqueConstraint("user_id", "network"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    network: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnrolmentLink(Model):
    """A one-time link an admin hands to a user to bind a second factor: only its SHA-256 is
    kept; it expires and is consumed by a compare-and-set UPDATE."""

    __tablename__ = "enrolment_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class WebAuthnCredential(Model):
    """A security key or platform authenticator registered as a second factor."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionValue(Model):
    """A secret that must not travel in the (readable, signed-only) cookie: the cookie holds
    only the random id; the value is encrypted with the personal-data key and expires."""

    __tablename__ = "session_values"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
