"""The audit chain's key: outside the database, so whoever can write the database cannot
re-chain edited events.

``AUDIT_KEY`` (a setting, e.g. ``PORTAL_AUDIT_KEY`` from the service's environment or a secret
store) wins; else the key file ``AUDIT_KEY_FILE`` (default ``instance/audit.key``), created on
first use with mode 0600 like ``secret_key`` and ``pii.key``. Several hosts must share one key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from flask import Flask, current_app

KEY_FILE = "audit.key"
EXTENSION = "portal.audit_key"


def key_path(app: Flask) -> Path:
    return Path(app.config.get("AUDIT_KEY_FILE") or Path(app.instance_path) / KEY_FILE)


def _create_key_file(path: Path) -> None:
    """Write a new key atomically; when several workers race, the first link wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def audit_key(app: Flask | None = None) -> bytes:
    """The app's HMAC key for the chain (read once per app)."""
    target = app if app is not None else current_app
    cached: bytes | None = target.extensions.get(EXTENSION)
    if cached is not None:
        return cached
    configured = target.config.get("AUDIT_KEY")
    if configured:
        key = str(configured).encode("utf-8")
    else:
        path = key_path(target)
        if not path.exists():
            _create_key_file(path)
        key = path.read_text(encoding="utf-8").strip().encode("utf-8")
        if not key:
            raise RuntimeError(f"{path} holds no audit key")
    target.extensions[EXTENSION] = key
    return key


def mac(purpose: str, *parts: object) -> str:
    """A keyed tag over one record that is not an event (the switch point, an anchor)."""
    message = "|".join(["portal audit v1", purpose, *map(str, parts)])
    return hmac.new(audit_key(), message.encode("utf-8"), hashlib.sha256).hexdigest()
