"""Attachments: what a file is (sniff), whether and how it is kept (check, images, documents),
where it is kept and how staff download it (store).

Callers use this package's names (``from portal.intake import attachments as files``); the
modules behind them are split by job, all but store pure.
"""

from __future__ import annotations

from portal.intake.attachments.check import (
    AttachmentRefused,
    CheckedFile,
    Limits,
    check_file,
    check_files,
    clean_filename,
)
from portal.intake.attachments.sniff import detect
from portal.intake.attachments.store import (
    StoreTransaction,
    open_attachment,
    path_for,
    send_attachment_response,
    uploads_root,
)

__all__ = [
    "AttachmentRefused",
    "CheckedFile",
    "Limits",
    "StoreTransaction",
    "check_file",
    "check_files",
    "clean_filename",
    "detect",
    "open_attachment",
    "path_for",
    "send_attachment_response",
    "uploads_root",
]
