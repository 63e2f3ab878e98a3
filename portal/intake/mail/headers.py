"""Header fields of inbound mail (pure, no Flask): addresses, dates, Message-IDs, whether a
machine sent it, and the receipt code a reply carries in its subject."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from datetime import UTC, datetime
from email.message import Message

from portal.intake import receipts
from portal.intake.mail.charsets import decode_header_text, raw_to_text


def header_map(msg: Message) -> dict[str, list[str]]:
    """Raw header values by lower-cased name, in order (8-bit bytes kept as surrogates)."""
    found: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        found.setdefault(str(name).strip().lower(), []).append(str(value))
    return found


def first_value(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    value = raw_to_text(value, [])
    ids = re.findall(r"<\s*([^<>\s]+)\s*>", value)
    if not ids:
        ids = [tok for tok in re.split(r"[\s,]+", value) if "@" in tok]
    return [i.strip() for i in ids if i.strip()]


def addresses(values: list[str], problems: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; names are RFC 2047-decoded."""
    pairs: list[tuple[str, str]] = []
    texts = [raw_to_text(re.sub(r"\r?\n[ \t]", " ", v), problems) for v in values]
    for name, addr in email.utils.getaddresses(texts):
        addr = addr.strip().strip("<>").strip()
        if not addr:
            continue
        pairs.append((decode_header_text(name, problems).strip('"').strip(), addr.lower()))
    return pairs


def parse_date(value: str | None, problems: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append(f"unreadable Date header {value.strip()[:60]!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        problems.append(f"Date header out of range {value.strip()[:60]!r}")
        return None


# Machine mail we must never answer (RFC 3834 and common practice).
_DAEMON_LOCALPARTS = {"mailer-daemon": "mailer-daemon", "postmaster": "postmaster"}


def auto_reason(
    headers: dict[str, list[str]], sender: str | None, report: str | None
) -> str | None:
    if report is not None:
        return report
    auto = (first_value(headers, "auto-submitted") or "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"auto-submitted: {auto.split(';')[0].strip()}"
    for name in ("x-autoreply", "x-autorespond"):
        value = first_value(headers, name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return name
    precedence = (first_value(headers, "precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply", "auto-reply"):
        return f"precedence: {precedence}"
    if "list-id" in headers:
        return "list-id"
    return_path = first_value(headers, "return-path")
    if return_path is not None and re.sub(r"[\s<>]", "", return_path) == "":
        return "empty return-path"
    if sender:
        local = sender.split("@", 1)[0].lower()
        if local in _DAEMON_LOCALPARTS:
            return _DAEMON_LOCALPARTS[local]
    return None


_RECEIPT_IN_SUBJECT = re.compile(r"\[\s*#\s*([0-9A-Za-z]{5})\s*[-‐‑‒–—―−]?\s*([0-9A-Za-z]{5})\s*\]")


def find_receipt_code(subject: str) -> str | None:
    """Find "[#ABCDE-FGHJK]" anywhere in a subject (full-width brackets too) -> "ABCDEFGHJK"."""
    if not subject:
        return None
    folded = unicodedata.normalize("NFKC", subject)
    for match in _RECEIPT_IN_SUBJECT.finditer(folded):
        code = receipts.normalise_code(match.group(1) + match.group(2))
        if code is not None:
            return code
    return None
