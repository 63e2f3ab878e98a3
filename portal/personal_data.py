"""Personal data at rest: Fernet encryption, blind indexes and masks for display.

The key file ``instance/pii.key`` is created on first use (mode 0600). It may hold several
Fernet keys, one a line: the first encrypts, all decrypt (MultiFernet), so a key can be rotated
by putting a new one first. Keyed hashes (blind index, receipt secrets) use a key derived from
the LAST line, the original key, so rotation does not break lookups.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import threading
import unicodedata
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

KEY_FILE = "pii.key"
_lock = threading.Lock()
_cache: dict[str, tuple[MultiFernet, bytes]] = {}
_derived: dict[tuple[bytes, str], bytes] = {}


class PersonalDataKeyError(RuntimeError):
    """The key file is missing or unreadable where data already exists."""


def key_path() -> Path:
    return Path(
        current_app.config.get("PII_KEY_FILE") or Path(current_app.instance_path) / KEY_FILE
    )


def _create_key_file(path: Path) -> None:
    """Write a new key atomically: a worker never reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        # link() fails when another worker won the race; its key is then the key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path: Path) -> tuple[MultiFernet, bytes]:
    if not path.exists():
        _create_key_file(path)
    lines = [line.strip() for line in path.read_bytes().splitlines() if line.strip()]
    if not lines:
        raise PersonalDataKeyError(f"{path} holds no key")
    fernet = MultiFernet([Fernet(line) for line in lines])
    index_key = hmac.new(lines[-1], b"portal blind index v1", hashlib.sha256).digest()
    return fernet, index_key


def _keys() -> tuple[MultiFernet, bytes]:
    # Keyed on the raw config strings: this runs for every encrypted column, keep it cheap.
    cache_key = f"{current_app.config.get('PII_KEY_FILE')}|{current_app.instance_path}"
    cached = _cache.get(cache_key)
    if cached is None:
        with _lock:
            cached = _cache.get(cache_key) or _load(key_path())
            _cache[cache_key] = cached
    return cached


def clear_key_cache() -> None:
    _cache.clear()
    _derived.clear()


def encrypt(plain: str) -> str:
    return _keys()[0].encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _keys()[0].decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise PersonalDataKeyError(
            "personal data cannot be decrypted with instance/pii.key"
        ) from exc


def encrypt_bytes(plain: bytes) -> bytes:
    """A Fernet token (ASCII bytes) of binary personal data, such as a raw mail message."""
    return _keys()[0].encrypt(plain)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _keys()[0].decrypt(token)
    except InvalidToken as exc:
        raise PersonalDataKeyError(
            "personal data cannot be decrypted with instance/pii.key"
        ) from exc


def derived_key(purpose: str) -> bytes:
    """A key for one purpose (e.g. "receipt-secret"), derived from the instance key."""
    base = _keys()[1]
    key = _derived.get((base, purpose))
    if key is None:
        key = hmac.new(base, purpose.encode(), hashlib.sha256).digest()
        _derived[(base, purpose)] = key
    return key


def normalise_email(address: str) -> str:
    return unicodedata.normalize("NFKC", address).strip().lower()


def blind_index(value: str, purpose: str = "email") -> str:
    """Keyed hash for equality lookups on an encrypted column (e.g. sender_hash)."""
    normalised = normalise_email(value) if purpose == "email" else value.strip()
    return hmac.new(derived_key(purpose), normalised.encode(), hashlib.sha256).hexdigest()


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a Fernet token: plain in Python, ciphertext in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value)


# --- masks for lists and exports ------------------------------------------------------------


def mask_name(name: str | None) -> str:
    """李明 -> 李**; the number of stars never tells the length."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else ""


def mask_phone(phone: str | None) -> str:
    """13812341234 -> 138****1234; short numbers are hidden entirely."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 7:
        return "****" if digits else ""
    return f"{digits[:3]}****{digits[-4:]}"


def mask_email(address: str | None) -> str:
    """zhang@qq.com -> z***@qq.com."""
    address = (address or "").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "***" if address else ""
    return f"{local[0]}***@{domain}"


def mask_address(address: str | None) -> str:
    """Keep the first six characters (city/district), hide the rest."""
    address = (address or "").strip()
    if not address:
        return ""
    return address[:6] + "***" if len(address) > 6 else address[:1] + "***"
