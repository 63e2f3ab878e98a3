"""Account changes shared by the CLI and the admin pages; each one is an audit event."""

from __future__ import annotations

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.staff.auth import end_all_sessions, find_user
from portal.staff.models import ROLES, User
from portal.staff.passwords import hash_password, password_problems


def create_user(
    email: str, *, role: str, password: str, display_name: str = "", actor: str | None = None
) -> User:
    """Create an account (caller commits). ValueError names the rule that was broken."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"未知角色 {role!r}，可选：{', '.join(ROLES)}")
    if "@" not in email:
        raise ValueError("邮箱格式不正确。")
    if find_user(email) is not None:
        raise ValueError("该邮箱已有账户。")
    problems = password_problems(password, email=email)
    if problems:
        raise ValueError(" ".join(problems))
    user = User(
        email=email,
        display_name=display_name or email.split("@")[0],
        role=role,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.create",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={"email": email, "role": role},
    )
    return user


def disable_user(user: User, *, actor: str | None = None) -> None:
    user.active = False
    end_all_sessions(user)
    audit.record(
        "user.disable",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={"email": user.email},
    )


def reset_2fa(user: User, *, actor: str | None = None) -> None:
    """Forget the TOTP secret and recovery codes; the next login enrols again."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_counter = None
    user.recovery_codes = []
    end_all_sessions(user)
    audit.record(
        "user.reset_2fa",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={"email": user.email},
    )


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))
