"""Receipt codes and secrets (pure logic, no Flask).

A code is 10 Crockford base32 characters (0-9 A-Z without I L O U), about 50 bits, shown as
XXXXX-XXXXX. A secret is 16 random digits, shown once; only a keyed hash of it is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
SECRET_DIGITS = 16
HASH_SCHEME = "hmac-sha256"
# Crockford decoding: letters people confuse with digits read as those digits.
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})
_ALPHABET_SET = frozenset(ALPHABET)


def generate_code() -> str:
    """A new random code in display form."""
    return format_code("".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)))


def normalise_code(raw: str | None) -> str | None:
    """The 10 canonical characters of what a person typed, or None when it cannot be a code.

    Accepts any case, full-width characters, spaces and hyphens, and i/l -> 1, o -> 0.
    """
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).upper().translate(_CONFUSABLE)
    chars = "".join(ch for ch in text if not ch.isspace() and ch not in "-–—_")
    if len(chars) != CODE_LENGTH or not set(chars) <= _ALPHABET_SET:
        return None
    return chars


def format_code(raw: str) -> str:
    """Display form XXXXX-XXXXX; raises ValueError when raw is not a code."""
    chars = normalise_code(raw)
    if chars is None:
        raise ValueError(f"not a receipt code: {raw!r}")
    return f"{chars[:5]}-{chars[5:]}"


def generate_secret() -> str:
    return f"{secrets.randbelow(10**SECRET_DIGITS):0{SECRET_DIGITS}d}"


def normalise_secret(raw: str | None) -> str:
    """Digits only (full-width digits allowed, spaces and hyphens ignored)."""
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


def hash_secret(secret: str, *, code: str, key: bytes) -> str:
    """Keyed hash bound to the code, so a copied database alone cannot test guesses.

    HMAC rather than argon2: the key lives outside the database and a 16-digit secret behind
    a rate-limited form is out of reach; argon2 would cost ~50 ms on every submission.
    """
    message = f"{normalise_code(code) or code}:{normalise_secret(secret)}".encode()
    return f"{HASH_SCHEME}${hmac.new(key, message, hashlib.sha256).hexdigest()}"


def verify_secret(secret: str, stored_hash: str, *, code: str, key: bytes) -> bool:
    """Constant-time comparison of a typed secret with the stored hash."""
    candidate = hash_secret(secret, code=code, key=key)
    return hmac.compare_digest(candidate.encode(), (stored_hash or "").encode())
