"""Header fields of inbound mail (pure, no Flask): addresses, dates, Message-IDs, whether a
machine sent it, and the receipt code a reply carries in its subject."""

from __future__ import annotations

import email.utils
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
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


_VALID_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+")
# An encoded word whose text holds a comma (Q encoding lets clients write one raw): quoted
# before splitting the list, or "=?utf-8?Q?Zhang,_San?= <a@b>" becomes two bogus addresses.
_WORD_WITH_COMMA = re.compile(r"(?<![\"\w])(=\?[^?\s]+\?[qQbB]\?[^?]*,[^?]*\?=)")


def addresses(
    values: list[str], problems: list[str], hints: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs with a usable address, in order; names are
    RFC 2047-decoded. Junk candidates (a first From: of garbage, a display name split at a
    comma) are skipped, their words kept as the next address's name when it has none."""
    pairs: list[tuple[str, str]] = []
    texts = [
        _WORD_WITH_COMMA.sub(r'"\1"', raw_to_text(re.sub(r"\r?\n[ \t]", " ", v), problems, hints))
        for v in values
    ]
    for text in texts:
        stray: list[str] = []  # words of this header that were no address
        for name, addr in email.utils.getaddresses([text]):
            addr = addr.strip().strip("<>").strip()
            if not _VALID_ADDRESS.fullmatch(addr):
                if addr and not name and "@" not in addr:
                    stray.append(addr)
                continue
            name = decode_header_text(name, problems, hints).strip('"').strip()
            if stray:  # "张三, 市民 <a@b>": the words before the comma are the name too
                name = decode_header_text(
                    ", ".join([*stray, name] if name else stray), problems, hints
                )
            stray = []
            pairs.append((name, addr.lower()))
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


# --- header blocks broken by hand-made or relayed mail ----------------------------------------

_FIELD = re.compile(rb"^[!-9;-~]{1,76}[ \t]*:")
_KNOWN_FIELDS = (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"received")


@dataclass(frozen=True)
class HeaderRepair:
    note: str | None = None  # what was repaired, for the message's problem list
    unreadable: str | None = None  # a quarantine reason when no header block can be found


def _field_name(line: bytes) -> bytes | None:
    match = _FIELD.match(line)
    return match.group().rstrip(b": \t").lower() if match else None


def repair_header_block(raw: bytes) -> tuple[bytes, HeaderRepair]:
    """Fix the two ways a header block breaks before the parser stops reading headers (and
    turns the rest into a body of header junk): junk lines before the first field, and
    continuation lines that lost their indentation. Unbroken mail comes back as it was."""
    eol = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    blank = raw.find(eol + eol)
    split_at = len(raw) if blank < 0 else blank + len(eol)
    if raw.startswith(eol):
        return raw, HeaderRepair()
    head, rest = raw[:split_at].split(eol), raw[split_at:]
    if head and not head[-1]:
        head.pop()
    if all(_field_name(line) or line[:1] in (b" ", b"\t") for line in head[1:]) and (
        not head or _field_name(head[0]) or head[0].startswith(b"From ")
    ):
        return raw, HeaderRepair()
    named = [i for i, line in enumerate(head) if _field_name(line)]
    known = [i for i in named if _field_name(head[i]) in _KNOWN_FIELDS]
    if not known:
        return raw, HeaderRepair(unreadable="broken header block: no From, To, Subject or Date")
    first, last = named[0], named[-1]
    fixed: list[bytes] = []
    notes: list[str] = []
    if first > 0 and not head[0].startswith(b"From "):
        notes.append(f"{first} junk line(s) before the headers dropped")
    elif first > 0:
        fixed.extend(head[:first])
    unindented = 0
    for line in head[first : last + 1]:
        if _field_name(line) or line[:1] in (b" ", b"\t"):
            fixed.append(line)
        else:
            fixed.append(b" " + line)  # a folded line that lost its indentation
            unindented += 1
    if unindented:
        notes.append(f"{unindented} unindented continuation line(s) rejoined")
    body_start = head[last + 1 :]
    if body_start and any(line[:1] not in (b" ", b"\t") for line in body_start):
        notes.append("no blank line after the headers")
        fixed.append(b"")
    fixed.extend(body_start)
    repaired = eol.join(fixed) + eol + rest if rest else eol.join(fixed)
    return repaired, HeaderRepair(note="header block repaired: " + "; ".join(notes))
