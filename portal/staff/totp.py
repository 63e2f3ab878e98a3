"""TOTP second factor and recovery codes. Pure logic: no Flask here."""

from __future__ import annotations

import secrets
import time

import pyotp
import segno

from portal.staff.passwords import hash_password, verify_password

ISSUER = "巡察整改意见反馈"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data: URI (allowed by the CSP's img-src)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def accepted_counter(
    secret: str, code: str, last_counter: int | None, now: float | None = None
) -> int | None:
    """The time step a code belongs to (±1 step of clock drift), or None when refused.

    A code whose step is not newer than ``last_counter`` is refused: codes are single-use.
    """
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now) // totp.interval
    for counter in (current - 1, current, current + 1):
        if last_counter is not None and counter <= last_counter:
            continue
        if secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def new_recovery_codes() -> list[str]:
    def one() -> str:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"

    return [one() for _ in range(RECOVERY_CODE_COUNT)]


def normalise_recovery_code(code: str) -> str:
    raw = "".join(ch for ch in code.lower() if ch.isalnum())
    return f"{raw[:5]}-{raw[5:]}" if len(raw) == 10 else raw


def hash_recovery_codes(codes: list[str]) -> list[str]:
    return [hash_password(normalise_recovery_code(c)) for c in codes]


def use_recovery_code(hashes: list[str], code: str) -> list[str] | None:
    """The remaining hashes when ``code`` matches one (which is consumed), else None."""
    code = normalise_recovery_code(code)
    if len(code) != 11:
        return None
    for index, stored in enumerate(hashes):
        if verify_password(stored, code):
            return hashes[:index] + hashes[index + 1 :]
    return None
