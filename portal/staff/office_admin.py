"""Changing an office's settings from the admin pages: one audit event per saved change.

Creating offices and rounds is the offices service's (shared with `flask offices`); this adds
the edit of an existing office, which only the admin pages do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal import audit
from portal.offices.models import Office
from portal.offices.service import OfficeError

# Shown in the audit log instead of a password, old or new.
REDACTED = "（已更改）"


# Text columns that hold "" rather than None when left blank.
NOT_NULL_TEXT = ("name", "short_name", "mail_addresses")


def _clean(name: str, raw: Any) -> Any:
    if name == "mail_addresses":  # one address a line, blank lines dropped
        return "\n".join(a.strip() for a in (raw or "").splitlines() if a.strip())
    if isinstance(raw, str):
        text = raw.strip()
        return text if name in NOT_NULL_TEXT else (text or None)
    return raw


def update_office(
    office: Office,
    values: Mapping[str, Any],
    *,
    password: str | None = None,
    actor: str | None = None,
) -> list[str]:
    """Set the named columns (blank text stores None, the name and address list excepted) and,
    when ``password`` is given, the IMAP password. Records one ``office.update`` event listing
    each changed field with its old and new value (never a password). Returns the changed
    field names; caller commits. OfficeError for a rule the form cannot check."""
    if office.is_default and values.get("active") is False:
        raise OfficeError("默认单位不能停用：无法归属的意见都交给它。")
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        value = _clean(name, raw)
        if name == "name" and not value:
            raise OfficeError("单位名称不能为空。")
        if getattr(office, name) != value:
            changes[name] = [getattr(office, name), value]
            setattr(office, name, value)
    if password:
        office.imap_password = password
        changes["imap_password"] = REDACTED
    if changes:
        audit.record(
            "office.update",
            object_type="office",
            object_id=office.id,
            actor=actor,
            details={"slug": office.slug, "changes": changes},
        )
    return list(changes)
