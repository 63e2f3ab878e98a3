"""Account changes shared by the CLI and the admin pages; each one is an audit event."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.offices.models import Office
from portal.offices.service import default_office
from portal.staff import factors, throttle
from portal.staff.auth import end_all_sessions, find_user
from portal.staff.models import GLOBAL_ROLES, ROLES, STAFF, Membership, User, utcnow
from portal.staff.passwords import hash_password, password_problems, verify_password


def create_user(
    email: str,
    *,
    role: str,
    password: str,
    display_name: str = "",
    actor: str | None = None,
    offices: Sequence[Office] = (),
) -> User:
    """Create an account (caller commits). ValueError names the rule that was broken.

    admin and supervisor hold their role everywhere; editor, triager and viewer hold it in
    ``offices`` (the default office when none is named)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"未知角色 {role!r}，可选：{', '.join(ROLES)}")
    if role in GLOBAL_ROLES and offices:
        raise ValueError("管理员和巡察办督查角色不属于某个单位，不能指定单位。")
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
        role=role if role in GLOBAL_ROLES else STAFF,
        password_hash=hash_password(password),
    )
    if role not in GLOBAL_ROLES:
        for office in offices or [default_office()]:
            user.memberships.append(Membership(office_id=office.id, role=role))
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.create",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={
            "email": email,
            "role": role,
            "offices": [m.office_id for m in user.memberships],
        },
    )
    return user


def set_membership(user: User, office: Office, role: str | None, *, actor: str | None) -> None:
    """Give ``user`` ``role`` in ``office`` (None removes it); ends the user's sessions so the
    new scope applies at once. Caller commits."""
    if user.role in GLOBAL_ROLES:
        raise ValueError("管理员和巡察办督查角色不属于某个单位。")
    if role is not None and role not in ROLES[len(GLOBAL_ROLES) :]:
        raise ValueError(f"未知角色 {role!r}")
    current = next((m for m in user.memberships if m.office_id == office.id), None)
    if role is None and current is not None:
        user.memberships.remove(current)
    elif role is not None and current is None:
        user.memberships.append(Membership(office_id=office.id, role=role))
    elif current is not None and role is not None:
        current.role = role
    end_all_sessions(user)
    audit.record(
        "user.membership",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={"email": user.email, "office": office.slug, "role": role},
    )


def set_role(
    user: User, role: str, *, office: Office | None = None, actor: str | None = None
) -> None:
    """Change the account's role: admin or supervisor everywhere, or an office role in
    ``office`` (a global user becomes staff of that one office; a staff user gets or changes
    that office's role and keeps the others). Ends the user's sessions; caller commits."""
    if role not in ROLES:
        raise ValueError(f"未知角色 {role!r}")
    before = user.role_label
    if role in GLOBAL_ROLES:
        if user.role == "admin" and role != "admin" and _admins_left(user) == 0:
            raise ValueError("这是最后一个启用的管理员账户，不能改为其他角色。")
        user.memberships.clear()
        user.role = role
    else:
        if office is None:
            raise ValueError("编辑、办理人员、只读角色须指定单位。")
        if user.role == "admin" and _admins_left(user) == 0:
            raise ValueError("这是最后一个启用的管理员账户，不能改为其他角色。")
        if user.role in GLOBAL_ROLES:
            user.memberships.clear()
            user.role = STAFF
        current = next((m for m in user.memberships if m.office_id == office.id), None)
        if current is None:
            user.memberships.append(Membership(office_id=office.id, role=role))
        else:
            current.role = role
    end_all_sessions(user)
    db.session.flush()
    audit.record(
        "user.role",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={
            "email": user.email,
            "role": role,
            "office": office.slug if office is not None and role not in GLOBAL_ROLES else None,
            "before": before,
        },
    )


def _admins_left(leaving: User) -> int:
    """Active admins other than ``leaving``: the deployment must keep one."""
    return len(
        db.session.scalars(
            select(User.id).where(
                User.role == "admin", User.active.is_(True), User.id != leaving.id
            )
        ).all()
    )


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
    """Forget every second factor and recovery code; the account can log in again only after
    enrolling through a new enrolment link from an admin."""
    factors.forget_second_factor(user)
    end_all_sessions(user)
    audit.record(
        "user.reset_2fa",
        object_type="user",
        object_id=user.id,
        actor=actor,
        details={"email": user.email},
    )


def change_password(user: User, current: str, new: str, *, network: str) -> bool:
    """Set a new password when ``current`` is right, ending every session (caller commits).

    A wrong ``current`` is an audit event and a login failure of ``network`` (same throttle):
    the form is no password oracle for someone who found a session open."""
    if not verify_password(user.password_hash, current):
        audit.record(
            "user.password_change_failure",
            object_type="user",
            object_id=user.id,
            details={"network": network},
        )
        throttle.record_failure(user, network)
        return False
    user.password_hash = hash_password(new)
    end_all_sessions(user)
    audit.record(
        "user.password_change", object_type="user", object_id=user.id, details={"network": network}
    )
    return True


def enrol_totp(user: User, secret: str, counter: int) -> list[str]:
    """Make ``secret`` (its code for time step ``counter`` accepted) the user's second factor;
    returns the new recovery codes, shown once (caller commits)."""
    user.totp_secret, user.totp_confirmed_at = secret, utcnow()
    user.totp_last_counter = counter
    codes = factors.replace_recovery_codes(user)
    audit.record(
        "user.2fa_enrol",
        object_type="user",
        object_id=user.id,
        actor=user.actor,
        details={"method": "totp"},
    )
    return codes


def renew_recovery_codes(user: User) -> list[str]:
    """Replace the recovery codes; returns the new ones, shown once (caller commits)."""
    codes = factors.replace_recovery_codes(user)
    audit.record("user.recovery_codes", object_type="user", object_id=user.id)
    return codes


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))
