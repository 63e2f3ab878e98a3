"""Password hashing (argon2id) and the password policy. Pure logic: no Flask here."""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext as _

MIN_LENGTH = 12
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

# argon2-cffi's defaults are RFC 9106's low-memory profile of argon2id (64 MiB, t=3, p=4).
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the e-mail is unknown, so a wrong address costs the same time as
    a wrong password (no account enumeration by timing). Made on first use, not at import: an
    argon2 hash takes ~100 ms, which every process (each `flask mail ingest` from the MTA)
    would otherwise pay at start."""
    return hasher.hash("dummy password for timing only")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(stored_hash or _dummy_hash(_hasher), password)
            and stored_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash used other parameters (e.g. weaker ones): rehash at next login."""
    return _hasher.check_needs_rehash(stored_hash)


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password).strip().lower()


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(_normalise(x) for x in lines if x.strip() and not x.startswith("# "))


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Why a new password is refused (Chinese, for the form); empty when acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("密码至少需要%(n)s个字符。", n=MIN_LENGTH))
    normalised = _normalise(password)
    if normalised in common_passwords():
        problems.append(_("该密码过于常见，请换一个。"))
    elif email and normalised in {_normalise(email), _normalise(email.split("@")[0])}:
        problems.append(_("密码不能与邮箱相同。"))
    elif len(set(normalised)) < 4:
        problems.append(_("密码中不同的字符太少。"))
    return problems
