"""Inbound mail: parsing (pure, at the top) — ingest and IMAP fetch come further down.

parse_message turns one raw RFC 5322 message from any Chinese mail client into a
ParsedMail. It never raises: whatever goes wrong becomes a problem note or, when no
readable text is left, a quarantine_reason the caller acts on.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.message
import email.policy
import email.utils
import hashlib
import html
import mimetypes
import quopri
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser

from portal.intake.sanitize import clean_html, html_to_text, normalise_text

MAX_BYTES = 30 * 1024 * 1024
MAX_PARTS = 50
MAX_DEPTH = 12  # nesting of multiparts / forwarded messages we follow
FORWARD_MARKER = "---- 转发的邮件 ----"


@dataclass
class MailAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool


@dataclass
class ParsedMail:
    sender: str | None = None
    sender_name: str | None = None
    subject: str = ""
    date: datetime | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    text: str = ""
    html: str | None = None
    attachments: list[MailAttachment] = field(default_factory=list)
    auto_reason: str | None = None
    bounced_message_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    quarantine_reason: str | None = None
    dedupe_key: str = ""


# ---------------------------------------------------------------------------
# Charsets
# ---------------------------------------------------------------------------

# GB2312-family labels are decoded as GB18030, its superset: 镕, 堃, 喆 … must survive.
_GB_LABELS = frozenset(
    {
        "gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "gb-2312-80",
        "gb2312-80", "gb-2312", "euc-cn", "x-euc-cn", "csgb2312", "chinese", "iso-ir-58",
        "gb18030", "gb-18030", "csgb231280", "gb231280", "936",
    }
)  # fmt: skip
_BIG5_LABELS = frozenset(
    {"big5", "big-5", "big5-hkscs", "big5hkscs", "x-x-big5", "x-big5", "cp950", "csbig5",
     "ms950", "windows-950", "big5hk", "cn-big5"}
)  # fmt: skip
_UTF8_LABEL = re.compile(r"(?:unicode-\d-\d-|x-unicode\d*-?)?utf-?8")
# Labels that clients put on anything; raw UTF-8 under them is a mislabel, not Latin-1.
_WESTERN_LABELS = frozenset(
    {"us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1", "iso8859-1", "windows-1252",
     "cp1252", "ansi-x3.4-1968", "us"}
)  # fmt: skip
_WESTERN_CODECS = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252"})
_NO_LABEL = frozenset({"", "unknown", "unknown-8bit", "x-unknown", "default", "8bit", "none"})
_GUESS_ORDER = ("utf-8", "gb18030", "big5hkscs")


def _canonical_label(label: str | None) -> str:
    """Lower-cased label without quotes, spaces or stray punctuation; '_' -> '-'."""
    if not label:
        return ""
    cleaned = re.sub(r"[\s\"'`;,]+", "", str(label)).lower().replace("_", "-")
    return cleaned


def _codecs_for_label(label: str | None) -> tuple[list[str], str | None]:
    """(codecs to try strictly, problem note) for a MIME charset label; [] means guess."""
    name = _canonical_label(label)
    if name in _NO_LABEL:
        return [], None
    if name in _GB_LABELS:
        return ["gb18030"], None
    if name in _BIG5_LABELS:
        return ["big5hkscs", "cp950"], None
    if _UTF8_LABEL.fullmatch(name):
        return ["utf-8"], None
    try:
        if not re.fullmatch(r"[a-z0-9.:+\-]{1,40}", name):
            raise LookupError(name)
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return [], f"unknown charset {str(label)[:40]!r}; guessed"
    if not getattr(info, "_is_text_encoding", True):  # rot13, zlib, base64 …
        return [], f"charset {label!r} is not a text encoding; guessed"
    return [info.name], None


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _looks_like_big5(gb_text: str) -> bool:
    """Big5 bytes also decode as GB18030, but into rare non-GB2312 characters."""
    han = [ch for ch in gb_text if "\u3400" <= ch <= "\u9fff"]
    if len(han) < 4:
        return False
    rare = 0
    for ch in han:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            rare += 1
    return rare / len(han) > 0.3


def _guess(data: bytes) -> tuple[str, str] | None:
    """First of utf-8, gb18030, big5 that decodes cleanly (Big5 preferred when plausible)."""
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    gb_text = _strict(data, "gb18030")
    if gb_text is not None:
        if _looks_like_big5(gb_text):
            big5_text = _strict(data, "big5hkscs")
            if big5_text is not None:
                return big5_text, "big5hkscs"
        return gb_text, "gb18030"
    big5_text = _strict(data, "big5hkscs")
    if big5_text is not None:
        return big5_text, "big5hkscs"
    return None


def _least_damaged(data: bytes, codecs_: list[str]) -> tuple[str, str]:
    """Lenient decode with whichever codec replaces the fewest characters."""
    best: tuple[int, str, str] | None = None
    for codec in codecs_:
        text = data.decode(codec, errors="replace")
        damage = text.count("\ufffd")
        if best is None or damage < best[0]:
            best = (damage, text, codec)
    assert best is not None
    return best[1], best[2]


def _strip_bom(data: bytes) -> tuple[bytes, str | None]:
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :], codec
    return data, None


def _decode(data: bytes, label: str | None, problems: list[str]) -> tuple[str, str]:
    """decode_bytes, recording what went wrong in problems."""
    tried, note = _codecs_for_label(label)
    if note:
        problems.append(note)
    unmarked, bom_codec = _strip_bom(data)
    # A BOM decides only when there is no label or it agrees with the label's family.
    if bom_codec and (not tried or bom_codec.startswith(tried[0])):
        data, tried = unmarked, [bom_codec]
    if not data.isascii() and tried and codecs.lookup(tried[0]).name in _WESTERN_CODECS:
        # Raw UTF-8 under a us-ascii/latin-1 label: the label is wrong, not the bytes.
        text = _strict(data, "utf-8")
        if text is not None:
            problems.append(f"charset {label!r} but the bytes are UTF-8")
            return text.replace("\ufeff", ""), "utf-8"
        if codecs.lookup(tried[0]).name == "ascii":
            tried = []
    for codec in tried:
        text = _strict(data, codec)
        if text is not None:
            return text.replace("\ufeff", ""), codec
    guessed = _guess(data)
    if guessed is not None:
        if tried:
            problems.append(f"bytes do not match charset {label!r}; decoded as {guessed[1]}")
        return guessed[0].replace("\ufeff", ""), guessed[1]
    text, codec = _least_damaged(data, tried[:1] + [c for c in _GUESS_ORDER if c not in tried])
    problems.append(f"undecodable bytes replaced ({text.count(chr(0xFFFD))} chars, {codec})")
    return text.replace("\ufeff", ""), codec


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str]:
    """Decode a MIME part's bytes: (text, charset used).

    GB2312-family labels decode as GB18030, Big5 as Big5-HKSCS; misspelled UTF-8 labels
    are mapped; a missing or unknown label tries utf-8, gb18030, big5 in that order. A
    correct explicit label is never overridden. Never raises: undecodable bytes become
    U+FFFD.
    """
    return _decode(bytes(data), label, [])


# ---------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=")


def _raw_to_text(value: str, problems: list[str]) -> str:
    """Header values arrive with 8-bit bytes as surrogates: decode those bytes by guessing."""
    if value.isascii():
        return value
    data = value.encode("utf-8", "surrogateescape")
    return _decode(data, None, problems)[0]


def _b_decode(payload: str, problems: list[str]) -> bytes:
    data, bad = _lenient_b64(payload)
    if bad:
        problems.append("bad base64 in an encoded header word")
    return data


def _q_decode(payload: str) -> bytes:
    data = payload.replace("_", " ").encode("ascii", "ignore")
    return quopri.decodestring(data)


def decode_header_text(value: str | None, problems: list[str] | None = None) -> str:
    """RFC 2047 words (adjacent words joined before decoding) and raw 8-bit bytes -> str."""
    if not value:
        return ""
    problems = [] if problems is None else problems
    value = re.sub(r"\r?\n[ \t]", " ", value)
    value = re.sub(r"[\r\n]", "", value)
    value = _raw_to_text(value, problems)
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(_decode(bytes(pending), pending_charset, problems)[0])
        pending = bytearray()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between.strip() or not pending:
            flush()
            out.append(between)
        charset, kind, payload = match.groups()
        if pending and _canonical_label(charset) != _canonical_label(pending_charset):
            flush()
        raw = _b_decode(payload, problems) if kind in "bB" else _q_decode(payload)
        pending.extend(raw)
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(value[pos:])
    return normalise_text("".join(out)).replace("\n", " ").strip()


def _headers(msg: Message) -> dict[str, list[str]]:
    """Raw header values by lower-cased name, in order (8-bit bytes kept as surrogates)."""
    found: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        found.setdefault(str(name).strip().lower(), []).append(str(value))
    return found


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    value = _raw_to_text(value, [])
    ids = re.findall(r"<\s*([^<>\s]+)\s*>", value)
    if not ids:
        ids = [tok for tok in re.split(r"[\s,]+", value) if "@" in tok]
    return [i.strip() for i in ids if i.strip()]


def _addresses(values: list[str], problems: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; names are RFC 2047-decoded."""
    pairs: list[tuple[str, str]] = []
    texts = [_raw_to_text(re.sub(r"\r?\n[ \t]", " ", v), problems) for v in values]
    for name, addr in email.utils.getaddresses(texts):
        addr = addr.strip().strip("<>").strip()
        if not addr:
            continue
        pairs.append((decode_header_text(name, problems).strip('"').strip(), addr.lower()))
    return pairs


def _parse_date(value: str | None, problems: list[str]) -> datetime | None:
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


def _auto_reason(
    headers: dict[str, list[str]], sender: str | None, report: str | None
) -> str | None:
    if report is not None:
        return report
    auto = (_first(headers, "auto-submitted") or "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"auto-submitted: {auto.split(';')[0].strip()}"
    for name in ("x-autoreply", "x-autorespond"):
        value = _first(headers, name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return name
    precedence = (_first(headers, "precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply", "auto-reply"):
        return f"precedence: {precedence}"
    if "list-id" in headers:
        return "list-id"
    return_path = _first(headers, "return-path")
    if return_path is not None and re.sub(r"[\s<>]", "", return_path) == "":
        return "empty return-path"
    if sender:
        local = sender.split("@", 1)[0].lower()
        if local in _DAEMON_LOCALPARTS:
            return _DAEMON_LOCALPARTS[local]
    return None


# ---------------------------------------------------------------------------
# Receipt codes
# ---------------------------------------------------------------------------

_CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
_RECEIPT_IN_SUBJECT = re.compile(r"\[\s*#\s*([0-9A-Za-z]{5})\s*[-‐‑‒–—―−]?\s*([0-9A-Za-z]{5})\s*\]")


def find_receipt_code(subject: str) -> str | None:
    """Find "[#ABCDE-FGHJK]" anywhere in a subject (full-width brackets too) -> "ABCDEFGHJK"."""
    if not subject:
        return None
    folded = unicodedata.normalize("NFKC", subject)
    for match in _RECEIPT_IN_SUBJECT.finditer(folded):
        code = (match.group(1) + match.group(2)).upper()
        code = code.replace("I", "1").replace("L", "1").replace("O", "0")
        if set(code) <= _CROCKFORD:
            return code
    return None


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------

_B64_ALPHABET = re.compile(rb"[^A-Za-z0-9+/=]")


def _lenient_b64(text: str | bytes) -> tuple[bytes, bool]:
    """Decode what can be decoded; (data, damaged). Independently padded chunks allowed."""
    raw = text.encode("ascii", "ignore") if isinstance(text, str) else text
    compact = re.sub(rb"\s+", b"", raw)
    cleaned = _B64_ALPHABET.sub(b"", compact)
    damaged = len(cleaned) != len(compact)
    out = bytearray()
    for chunk in re.split(rb"=+", cleaned):
        if not chunk:
            continue
        usable = len(chunk) - len(chunk) % 4
        rest = chunk[usable:]
        if len(rest) == 1:
            damaged = True
            rest = b""
        try:
            out.extend(base64.b64decode(chunk[:usable] + rest + b"=" * (-len(rest) % 4)))
        except (binascii.Error, ValueError):
            damaged = True
    return bytes(out), damaged


def _wire_bytes(part: Message) -> bytes:
    """The payload exactly as it came off the wire, before any transfer decoding."""
    # get_payload(decode=False) re-decodes 8-bit payloads through the part's charset label
    # and fails on hostile labels; the parser's stored text (surrogate-escaped) is exact.
    payload = getattr(part, "_payload", "")
    if not isinstance(payload, str):
        return b""
    return payload.encode("utf-8", "surrogateescape")


def _part_bytes(part: Message, problems: list[str]) -> bytes:
    """Transfer-decoded payload bytes of a leaf part, leniently."""
    cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
    wire = _wire_bytes(part)
    if cte == "base64":
        data, damaged = _lenient_b64(wire)
        if damaged:
            problems.append("broken base64 (decoded what could be decoded)")
        return data
    if cte == "quoted-printable":
        if re.search(rb"=(?![0-9A-Fa-f]{2}|\r?\n|[ \t]*(?:\r?\n|$))", wire):
            problems.append("malformed quoted-printable (kept literally where undecodable)")
        return quopri.decodestring(wire)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else wire
    if cte not in ("", "7bit", "8bit", "binary"):
        problems.append(f"unknown transfer encoding {cte[:30]!r}; taken as-is")
    return wire


def _param(part: Message, name: str, header: str) -> str | None:
    """A Content-Type/Disposition parameter, RFC 2231 and RFC 2047 forms decoded."""
    try:
        value = part.get_param(name, header=header)
    except Exception:  # malformed parameters must not sink the message
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        charset, _lang, text = value
        data = str(text).encode("latin-1", "surrogateescape")
        return _decode(data, charset or None, [])[0]
    return email.utils.unquote(str(value))


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _filename(part: Message, problems: list[str]) -> str | None:
    raw = _param(part, "filename", "content-disposition") or _param(part, "name", "content-type")
    if not raw:
        return None
    name = decode_header_text(raw, problems)
    name = re.split(r"[\\/]", name)[-1].strip().strip(".")  # no directories, no '..'
    return name or None


def _charset_label(part: Message, data: bytes, ctype: str) -> str | None:
    label = _param(part, "charset", "content-type")
    if not label and ctype == "text/html":
        meta = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", data[:4096], re.I)
        if meta:
            label = meta.group(1).decode("ascii")
    return label


_EXTENSIONS = {"application/ms-tnef": ".dat", "message/rfc822": ".eml", "text/plain": ".txt"}


def _extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"


@dataclass
class _Body:
    """What one message (or one forwarded message) contributes while we walk its parts."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    forwarded: list[tuple[str, str]] = field(default_factory=list)  # (text, html) sections
    attachments: list[MailAttachment] = field(default_factory=list)
    bounced_ids: list[str] = field(default_factory=list)
    report_type: str | None = None


def _walk(part: Message, body: _Body, problems: list[str], depth: int, in_report: bool) -> None:
    if depth > MAX_DEPTH:
        problems.append("parts nested too deeply; ignored the rest")
        return
    ctype = _content_type(part)
    try:
        _walk_part(part, ctype, body, problems, depth, in_report)
    except Exception as exc:  # one unreadable part must not lose the rest of the message
        problems.append(f"unreadable {ctype} part skipped ({type(exc).__name__})")


def _walk_part(
    part: Message, ctype: str, body: _Body, problems: list[str], depth: int, in_report: bool
) -> None:
    if ctype in ("message/rfc822", "message/global"):
        _walk_forwarded(part, body, problems, depth, in_report)
        return
    if ctype == "message/delivery-status":
        _scan_delivery_status(part, body)
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/report":
            body.report_type = (_param(part, "report-type", "content-type") or "").lower()
            in_report = True
        if ctype == "multipart/alternative":
            _walk_alternative(children, body, problems, depth, in_report)
        else:
            for child in children:
                _walk(child, body, problems, depth + 1, in_report)
        return
    _leaf(part, ctype, body, problems, in_report)


def _walk_alternative(
    children: list[Message], body: _Body, problems: list[str], depth: int, in_report: bool
) -> None:
    """Plain text from the first alternative that has it, HTML from the last that has it."""
    subs = []
    for child in children:
        sub = _Body()
        _walk(child, sub, problems, depth + 1, in_report)
        subs.append(sub)
    plain = next((s for s in subs if "".join(s.texts).strip()), None)
    rich = next((s for s in reversed(subs) if s.htmls), None)
    if plain is not None:
        body.texts.extend(plain.texts)
    if rich is not None:
        body.htmls.extend(rich.htmls)
    for sub in subs:
        body.forwarded.extend(sub.forwarded)
        body.attachments.extend(sub.attachments)
        body.bounced_ids.extend(sub.bounced_ids)


def _leaf(part: Message, ctype: str, body: _Body, problems: list[str], in_report: bool) -> None:
    disposition = _disposition(part)
    filename = _filename(part, problems)
    data = _part_bytes(part, problems)
    is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
    if in_report and ctype == "text/rfc822-headers":
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
        body.bounced_ids.extend(_msg_ids(_first(_headers(headers), "message-id")))
        return
    if is_body:
        text = _decode(data, _charset_label(part, data, ctype), problems)[0]
        (body.texts if ctype == "text/plain" else body.htmls).append(text)
        return
    inline = disposition == "inline" or (disposition is None and part.get("content-id") is not None)
    body.attachments.append(MailAttachment(filename or "", ctype, data, inline))


def _walk_forwarded(
    part: Message, body: _Body, problems: list[str], depth: int, in_report: bool
) -> None:
    """A message/rfc822 part: its text goes under the forward marker, its files are kept."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
        encoded = inner.get_payload()
        if cte == "base64" and not inner.keys() and isinstance(encoded, str):
            # Not allowed by RFC 2046, but sent: the parser took the base64 text as a body.
            data, _damaged = _lenient_b64(encoded)
            inner = email.message_from_bytes(data, policy=email.policy.default)
    else:
        inner = email.message_from_bytes(_part_bytes(part, problems), policy=email.policy.default)
    headers = _headers(inner)
    if in_report:
        body.bounced_ids.extend(_msg_ids(_first(headers, "message-id")))
    sub = _Body()
    _walk(inner, sub, problems, depth + 1, False)
    text, raw_html = _finish_body(sub)
    senders = _addresses(headers.get("from", []), problems)
    name, address = senders[0] if senders else ("", "")
    sender = f"{name} <{address}>" if name else address
    subject = decode_header_text(_first(headers, "subject"), problems)
    intro = [FORWARD_MARKER, f"发件人: {sender}", f"主题: {subject}"]
    section_text = "\n".join([*intro, text]).rstrip()
    section_html = (
        "<div><p>" + "<br>".join(html.escape(line) for line in intro) + "</p>"
        + (raw_html or "<pre>" + html.escape(text) + "</pre>") + "</div>"
    )  # fmt: skip
    body.forwarded.append((section_text, section_html))
    body.attachments.extend(sub.attachments)


def _scan_delivery_status(part: Message, body: _Body) -> None:
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    for block in blocks:
        if isinstance(block, Message):
            for name in ("original-message-id", "x-original-message-id"):
                body.bounced_ids.extend(_msg_ids(_first(_headers(block), name)))


def _finish_body(body: _Body) -> tuple[str, str | None]:
    """(plain text, raw HTML or None) of one message, forwarded sections appended."""
    text = "\n\n".join(t.strip("\n") for t in body.texts if t.strip())
    raw_html = "\n".join(body.htmls) if body.htmls else None
    if not text.strip() and raw_html:
        text = html_to_text(raw_html)
    for section_text, section_html in body.forwarded:
        text = f"{text}\n\n{section_text}" if text.strip() else section_text
        if raw_html is not None:
            raw_html += section_html
    return normalise_text(text).strip(), raw_html


# ---------------------------------------------------------------------------
# parse_message
# ---------------------------------------------------------------------------


def _fill_headers(mail: ParsedMail, headers: dict[str, list[str]]) -> None:
    problems = mail.problems
    senders = _addresses(headers.get("from", []) or headers.get("sender", []), problems)
    if senders:
        mail.sender_name = senders[0][0] or None
        mail.sender = senders[0][1]
    mail.subject = decode_header_text(_first(headers, "subject"), problems)
    mail.date = _parse_date(_first(headers, "date"), problems)
    ids = _msg_ids(_first(headers, "message-id"))
    mail.message_id = ids[0] if ids else None
    replied = _msg_ids(_first(headers, "in-reply-to"))
    mail.in_reply_to = replied[0] if replied else None
    mail.references = _msg_ids(" ".join(headers.get("references", [])))
    mail.to = [a for _n, a in _addresses(headers.get("to", []) + headers.get("cc", []), problems)]
    for name in ("original-message-id", "x-original-message-id"):
        mail.bounced_message_ids.extend(_msg_ids(_first(headers, name)))


def _header_block(raw: bytes, limit: int = 1024 * 1024) -> bytes:
    head = raw[:limit]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[: min(ends)] if ends else head


def _dedupe_key(mail: ParsedMail) -> str:
    if mail.message_id:
        return mail.message_id
    date = mail.date.isoformat() if mail.date else ""
    material = "\x1f".join([mail.sender or "", date, mail.subject, mail.text])
    return "sha256:" + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def _readable(text: str) -> bool:
    """Some real content left: not only whitespace and U+FFFD, and mostly not U+FFFD."""
    visible = [ch for ch in text if not ch.isspace()]
    damaged = sum(1 for ch in visible if ch == "\ufffd")
    return len(visible) > damaged and damaged <= len(visible) // 2


def _parse(raw: bytes, max_bytes: int, max_parts: int) -> ParsedMail:
    mail = ParsedMail()
    if len(raw) > max_bytes:
        # Headers only, so staff still see who sent it; the body is never decoded.
        head = BytesHeaderParser(policy=email.policy.default).parsebytes(_header_block(raw))
        _fill_headers(mail, _headers(head))
        mail.quarantine_reason = "too large"
        return mail
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = _headers(msg)
    _fill_headers(mail, headers)
    leaves = 0
    for part in msg.walk():
        if not part.is_multipart():
            leaves += 1
            if leaves > max_parts:
                mail.quarantine_reason = "too many parts"
                return mail
    body = _Body()
    _walk(msg, body, mail.problems, 0, False)
    text, raw_html = _finish_body(body)
    mail.text = text
    mail.html = clean_html(raw_html) if raw_html is not None else None
    for number, attachment in enumerate(body.attachments, start=1):
        if not attachment.filename:
            attachment.filename = f"attachment-{number}{_extension(attachment.content_type)}"
    mail.attachments = body.attachments
    report = None
    if body.report_type is not None:
        kind = "read receipt" if "disposition-notification" in body.report_type else "bounce"
        report = f"{kind} (multipart/report)"
    mail.auto_reason = _auto_reason(headers, mail.sender, report)
    mail.bounced_message_ids.extend(body.bounced_ids)
    if mail.auto_reason in ("mailer-daemon", "postmaster") and not mail.bounced_message_ids:
        # Plain-text bounces (qmail, old Exchange) quote the original headers in the body.
        quoted = re.findall(r"(?im)^[ >]*Message-ID:\s*<([^<>\s]+)>", mail.text)
        mail.bounced_message_ids.extend(quoted)
    mail.bounced_message_ids = list(dict.fromkeys(mail.bounced_message_ids))
    if not mail.attachments and not _readable(mail.text):
        damaged = mail.text.strip() or any(
            "base64" in p or "undecodable" in p for p in mail.problems
        )
        mail.quarantine_reason = "undecodable body" if damaged else "empty body"
    return mail


def parse_message(raw: bytes, max_bytes: int = MAX_BYTES, max_parts: int = MAX_PARTS) -> ParsedMail:
    """Parse one raw RFC 5322 message. Never raises; see ParsedMail for the outcome."""
    try:
        data = raw if isinstance(raw, bytes) else bytes(raw)
    except Exception as exc:
        mail = ParsedMail(quarantine_reason=f"parser error: {type(exc).__name__}")
        mail.dedupe_key = _dedupe_key(mail)
        return mail
    try:
        mail = _parse(data, max_bytes, max_parts)
    except Exception as exc:  # one bad message must never block the others
        mail = ParsedMail(quarantine_reason=f"parser error: {type(exc).__name__}: {exc}"[:300])
        mail.dedupe_key = "sha256:" + hashlib.sha256(data).hexdigest()
        return mail
    mail.dedupe_key = _dedupe_key(mail)
    return mail
