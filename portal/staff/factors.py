"""Checking a second factor: each code is consumed by a compare-and-set UPDATE, so the same
TOTP code or recovery code sent twice at once opens one session, not two (issue #19, item 10).
"""

from __future__ import annotations

from sqlalchemy import or_, select, update

from portal.extensions import db
from portal.staff import totp
from portal.staff.models import RecoveryCode, User
from portal.staff.passwords import hash_password, verify_password
from portal.workdays import utcnow


def consume_totp(user: User, code: str) -> bool:
    """Accept ``code`` once: the time step is stored only if no newer one was stored first."""
    counter = totp.accepted_counter(user.totp_secret or "", code, user.totp_last_counter)
    if counter is None or not user.has_totp:
        return False
    result = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_counter.is_(None), User.totp_last_counter < counter),
        )
        .values(totp_last_counter=counter)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def consume_recovery_code(user: User, code: str) -> bool:
    """Accept an unused recovery code once: its row is marked used only WHERE still unused."""
    code = totp.normalise_recovery_code(code)
    if len(code) != 11:
        return False
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    for row in unused:
        if verify_password(row.code_hash, code):
            result = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]
    return False


def check_code(user: User, code: str) -> str | None:
    """'totp' or 'recovery' when ``code`` is accepted (and consumed), else None."""
    if consume_totp(user, code):
        return "totp"
    if consume_recovery_code(user, code):
        return "recovery"
    return None


def replace_recovery_codes(user: User) -> list[str]:
    """New recovery codes (shown once); the old ones stop working (caller commits)."""
    codes = totp.new_recovery_codes()
    user.recovery_codes.clear()
    for code in codes:
        user.recovery_codes.append(RecoveryCode(code_hash=hash_password(code)))
    return codes


def forget_second_factor(user: User) -> None:
    """Every second factor and recovery code of ``user`` is gone (caller commits)."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_counter = None
    user.recovery_codes.clear()
    user.webauthn_credentials.clear()
