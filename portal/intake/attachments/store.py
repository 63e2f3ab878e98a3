"""Storing and serving attachment files, content-addressed under the instance folder.

A checked file lives at ``<UPLOADS_PATH>/<sha[:2]>/<sha>``: two submissions with the same
picture share one file. ``StoreTransaction`` writes each file under a temporary name and
links it into place; if the caller's database transaction fails it removes exactly the files
this call created, never one an earlier submission already stored.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from flask import Response, current_app, send_file

from portal.intake.attachments.check import CheckedFile
from portal.intake.models import Attachment
from portal.site import content_disposition


def uploads_root() -> Path:
    configured = current_app.config.get("UPLOADS_PATH")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def path_for(sha256: str, root: Path | None = None) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256 hex digest")
    return (root or uploads_root()) / sha256[:2] / sha256


class StoreTransaction:
    """Files written for one database transaction; ``rollback()`` removes what it created."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or uploads_root()
        self.created: list[Path] = []
        self.reused: dict[Path, bytes] = {}

    def store(self, checked: CheckedFile) -> Path:
        final = path_for(checked.sha256, self.root)
        if final.exists():
            self.reused[final] = checked.data
            return final
        if self._write_new(final, checked.data):
            self.created.append(final)
        else:
            self.reused[final] = checked.data
        return final

    def _write_new(self, final: Path, data: bytes) -> bool:
        """Temp file, fsync, then link(): atomic, and it fails if another writer won the race."""
        # Citizens' files: folders 0700 and files 0600, readable by the portal's user alone.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(mode=0o700, exist_ok=True)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = tmp_dir / f"{final.name}.{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def rollback(self, still_referenced: set[str] | None = None) -> None:
        """Remove the files this transaction created, unless a committed row now uses them."""
        keep = still_referenced or set()
        for path in self.created:
            if path.name not in keep:
                path.unlink(missing_ok=True)
        self.created.clear()

    def after_commit(self) -> None:
        """Re-create any reused file that a concurrent, failed transaction removed meanwhile."""
        for final, data in self.reused.items():
            if not final.exists():
                self._write_new(final, data)
        self.created.clear()
        self.reused.clear()


def open_attachment(attachment: Attachment) -> Path:
    """The stored file of an attachment (raises FileNotFoundError when it is missing)."""
    path = path_for(attachment.sha256)
    if not path.is_file():
        raise FileNotFoundError(f"attachment {attachment.id} ({attachment.sha256}) is missing")
    return path


def send_attachment_response(attachment: Attachment) -> Response:
    """A download that no browser renders inline or sniffs (for staff views)."""
    response = send_file(
        open_attachment(attachment),
        mimetype=attachment.content_type,
        as_attachment=False,
        conditional=True,
        etag=attachment.sha256,
        max_age=0,
    )
    response.headers["Content-Disposition"] = content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
