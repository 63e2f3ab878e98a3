"""One raw RFC 5322 message from any Chinese mail client -> ParsedMail (pure, no Flask).

parse_message never raises: whatever goes wrong becomes a problem note or, when no readable
text is left, a quarantine_reason the caller acts on. Charsets are decoded in charsets.py,
header fields read in headers.py; this module walks the MIME tree.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import hashlib
import html
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser

from portal.intake.mail.charsets import decode, decode_header_text, lenient_b64
from portal.intake.mail.headers import (
    addresses,
    auto_reason,
    first_value,
    header_map,
    msg_ids,
    parse_date,
)
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
    to: list[str] = field(default_factory=list)  # To and Cc
    delivered_to: list[str] = field(default_factory=list)  # Delivered-To, X-Original-To
    text: str = ""
    html: str | None = None
    attachments: list[MailAttachment] = field(default_factory=list)
    auto_reason: str | None = None
    bounced_message_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    quarantine_reason: str | None = None
    dedupe_key: str = ""


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
        data, damaged = lenient_b64(wire)
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
        return decode(data, charset or None, [])[0]
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
        body.bounced_ids.extend(msg_ids(first_value(header_map(headers), "message-id")))
        return
    if is_body:
        text = decode(data, _charset_label(part, data, ctype), problems)[0]
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
            data, _damaged = lenient_b64(encoded)
            inner = email.message_from_bytes(data, policy=email.policy.default)
    else:
        inner = email.message_from_bytes(_part_bytes(part, problems), policy=email.policy.default)
    headers = header_map(inner)
    if in_report:
        body.bounced_ids.extend(msg_ids(first_value(headers, "message-id")))
    sub = _Body()
    _walk(inner, sub, problems, depth + 1, False)
    text, raw_html = _finish_body(sub)
    senders = addresses(headers.get("from", []), problems)
    name, address = senders[0] if senders else ("", "")
    sender = f"{name} <{address}>" if name else address
    subject = decode_header_text(first_value(headers, "subject"), problems)
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
                body.bounced_ids.extend(msg_ids(first_value(header_map(block), name)))


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


def _fill_headers(mail: ParsedMail, headers: dict[str, list[str]]) -> None:
    problems = mail.problems
    senders = addresses(headers.get("from", []) or headers.get("sender", []), problems)
    if senders:
        mail.sender_name = senders[0][0] or None
        mail.sender = senders[0][1]
    mail.subject = decode_header_text(first_value(headers, "subject"), problems)
    mail.date = parse_date(first_value(headers, "date"), problems)
    ids = msg_ids(first_value(headers, "message-id"))
    mail.message_id = ids[0] if ids else None
    replied = msg_ids(first_value(headers, "in-reply-to"))
    mail.in_reply_to = replied[0] if replied else None
    mail.references = msg_ids(" ".join(headers.get("references", [])))
    mail.to = [a for _n, a in addresses(headers.get("to", []) + headers.get("cc", []), problems)]
    envelope = headers.get("delivered-to", []) + headers.get("x-original-to", [])
    mail.delivered_to = [a for _n, a in addresses(envelope, problems)]
    for name in ("original-message-id", "x-original-message-id"):
        mail.bounced_message_ids.extend(msg_ids(first_value(headers, name)))


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
        _fill_headers(mail, header_map(head))
        mail.quarantine_reason = "too large"
        return mail
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = header_map(msg)
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
    mail.auto_reason = auto_reason(headers, mail.sender, report)
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
