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

from portal.intake.attachments.sniff import KINDS, detect
from portal.intake.mail.charsets import (
    declared_charsets,
    decode,
    decode_header_text,
    lenient_b64,
    raw_to_text,
)
from portal.intake.mail.headers import (
    addresses,
    auto_reason,
    first_value,
    header_map,
    msg_ids,
    parse_date,
    repair_header_block,
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
    signed: str | None = None  # "PGP" or "S/MIME" when the message carried a signature part
    # "dmarc=fail" …: a receiving server found the From: domain forged (Authentication-Results).
    auth_failure: str | None = None


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


def _raw_header(part: Message, header: str) -> str | None:
    """A header's value as it came (8-bit bytes as surrogates), before the policy's decoding."""
    for name, value in part.raw_items():
        if str(name).lower() == header:
            return str(value)
    return None


def _raw_8bit_param(part: Message, name: str, header: str, hints: list[str]) -> str | None:
    """A parameter holding raw 8-bit bytes (GBK, Latin-1 …), decoded like a raw subject.

    The default policy turns such bytes into U+FFFD before get_param returns them."""
    value = _raw_header(part, header)
    if value is None or value.isascii():
        return None
    pattern = rf'(?is)(?:^|;)\s*{name}\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)'
    found = re.search(pattern, value)
    if not found:
        return None
    text = email.utils.unquote(found.group(1).strip())
    return raw_to_text(text, [], hints) if not text.isascii() else text


def _filename(part: Message, problems: list[str], hints: list[str]) -> str | None:
    raw = (
        _raw_8bit_param(part, "filename", "content-disposition", hints)
        or _param(part, "filename", "content-disposition")
        or _raw_8bit_param(part, "name", "content-type", hints)
        or _param(part, "name", "content-type")
    )
    if not raw:
        return None
    name = decode_header_text(raw, problems, hints)
    name = re.split(r"[\\/]", name)[-1].strip().strip(".")  # no directories, no '..'
    return name or None


def _charset_label(part: Message, data: bytes, ctype: str) -> str | None:
    label = _param(part, "charset", "content-type")
    if not label and ctype == "text/html":
        meta = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", data[:4096], re.I)
        if meta:
            label = meta.group(1).decode("ascii")
    return label


_EXTENSIONS = {
    "application/ms-tnef": ".dat",
    "message/rfc822": ".eml",
    "text/plain": ".txt",
    "image/jpg": ".jpg",  # not a registered type, but what many phones send
    "image/pjpeg": ".jpg",
    "image/gif": ".gif",
}
# Signature parts sign the message; they are not the citizen's files.
SIGNATURE_TYPES = {
    "application/pgp-signature": "PGP",
    "application/pkcs7-signature": "S/MIME",
    "application/x-pkcs7-signature": "S/MIME",
}
SIGNATURE_NAMES = {"signature.asc": "PGP", "smime.p7s": "S/MIME"}


def _extension(content_type: str, data: bytes) -> str:
    """The extension of what the bytes are (a sniffed kind wins over the label); "" when
    neither tells: a name without extension is judged by content, a made-up ".bin" never is."""
    detection = detect(data)
    if detection.kind is not None and detection.kind in KINDS:
        return KINDS[detection.kind].extensions[0]
    if detection.guess is not None:
        return "." + detection.guess[1]
    if content_type == "application/octet-stream":
        return ""
    return _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""


def _signature_kind(ctype: str, filename: str | None) -> str | None:
    if ctype in SIGNATURE_TYPES:
        return SIGNATURE_TYPES[ctype]
    if filename and ctype in ("application/octet-stream", "text/plain"):
        return SIGNATURE_NAMES.get(filename.lower())
    return None


@dataclass
class _Segment:
    """One text-bearing part in message order: plain text, HTML, or both (alternatives)."""

    text: str | None = None
    html: str | None = None


@dataclass
class _Body:
    """What one message (or one forwarded message) contributes while we walk its parts."""

    segments: list[_Segment] = field(default_factory=list)
    forwarded: list[tuple[str, str]] = field(default_factory=list)  # (text, html) sections
    attachments: list[MailAttachment] = field(default_factory=list)
    bounced_ids: list[str] = field(default_factory=list)
    report_type: str | None = None
    signed: str | None = None
    hints: list[str] = field(default_factory=list)  # charsets the message declares elsewhere

    def sub(self) -> _Body:
        return _Body(hints=self.hints)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.segments if s.text is not None]

    @property
    def htmls(self) -> list[str]:
        return [s.html for s in self.segments if s.html is not None]


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
        if ctype == "multipart/signed":
            protocol = (_param(part, "protocol", "content-type") or "").lower()
            body.signed = body.signed or SIGNATURE_TYPES.get(protocol)
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
    """Plain text from the first alternative that has it, HTML from the last that has it: one
    segment, since both say the same thing."""
    subs = []
    for child in children:
        sub = body.sub()
        _walk(child, sub, problems, depth + 1, in_report)
        subs.append(sub)
    plain = next((s for s in subs if "".join(s.texts).strip()), None)
    rich = next((s for s in reversed(subs) if s.htmls), None)
    if plain is not None or rich is not None:
        body.segments.append(
            _Segment(
                "\n\n".join(plain.texts) if plain is not None else None,
                "\n".join(rich.htmls) if rich is not None else None,
            )
        )
    for sub in subs:
        body.signed = body.signed or sub.signed
        body.forwarded.extend(sub.forwarded)
        body.attachments.extend(sub.attachments)
        body.bounced_ids.extend(sub.bounced_ids)


def _leaf(part: Message, ctype: str, body: _Body, problems: list[str], in_report: bool) -> None:
    disposition = _disposition(part)
    filename = _filename(part, problems, body.hints)
    signature = _signature_kind(ctype, filename)
    if signature is not None:
        body.signed = body.signed or signature
        return
    data = _part_bytes(part, problems)
    is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
    if in_report and ctype == "text/rfc822-headers":
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
        body.bounced_ids.extend(msg_ids(first_value(header_map(headers), "message-id")))
        return
    if is_body:
        text = decode(data, _charset_label(part, data, ctype), problems, body.hints)[0]
        body.segments.append(
            _Segment(text, None) if ctype == "text/plain" else _Segment(None, text)
        )
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
    sub = body.sub()
    _walk(inner, sub, problems, depth + 1, False)
    text, raw_html = _finish_body(sub)
    senders = addresses(headers.get("from", []), problems, body.hints)
    name, address = senders[0] if senders else ("", "")
    sender = f"{name} <{address}>" if name else address
    subject = decode_header_text(first_value(headers, "subject"), problems, body.hints)
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


def _segment_text(segment: _Segment) -> str:
    if segment.text is not None and segment.text.strip():
        return segment.text.strip("\n")
    return html_to_text(segment.html) if segment.html else ""


def _segment_html(segment: _Segment) -> str:
    if segment.html is not None:
        return segment.html
    return (
        "<pre>" + html.escape(segment.text or "") + "</pre>" if (segment.text or "").strip() else ""
    )


def _finish_body(body: _Body) -> tuple[str, str | None]:
    """(plain text, raw HTML or None) of one message, forwarded sections appended.

    Every text-bearing part counts, in order, in both forms: an HTML part's text is in the
    plain body and a plain part is in the HTML (as preformatted text)."""
    text = "\n\n".join(t for t in map(_segment_text, body.segments) if t.strip())
    has_html = any(s.html is not None for s in body.segments)
    raw_html = "\n".join(filter(None, map(_segment_html, body.segments))) if has_html else None
    for section_text, section_html in body.forwarded:
        text = f"{text}\n\n{section_text}" if text.strip() else section_text
        if raw_html is not None:
            raw_html += section_html
    return normalise_text(text).strip(), raw_html


_AUTH_FAILURE = re.compile(r"(?i)\b(dmarc|spf|dkim)\s*=\s*fail\b")


def _fill_headers(mail: ParsedMail, headers: dict[str, list[str]], hints: list[str]) -> None:
    problems = mail.problems
    senders = addresses(headers.get("from", []), problems, hints) or addresses(
        headers.get("sender", []), problems, hints
    )
    if senders:
        mail.sender_name = senders[0][0] or None
        mail.sender = senders[0][1]
    mail.subject = decode_header_text(first_value(headers, "subject"), problems, hints)
    mail.date = parse_date(first_value(headers, "date"), problems)
    ids = msg_ids(first_value(headers, "message-id"))
    mail.message_id = ids[0] if ids else None
    replied = msg_ids(first_value(headers, "in-reply-to"))
    mail.in_reply_to = replied[0] if replied else None
    mail.references = msg_ids(" ".join(headers.get("references", [])))
    recipients = headers.get("to", []) + headers.get("cc", [])
    mail.to = [a for _n, a in addresses(recipients, problems, hints)]
    envelope = headers.get("delivered-to", []) + headers.get("x-original-to", [])
    mail.delivered_to = [a for _n, a in addresses(envelope, problems, hints)]
    for name in ("original-message-id", "x-original-message-id"):
        mail.bounced_message_ids.extend(msg_ids(first_value(headers, name)))
    # Anyone can add a "pass" to their own mail, but a "fail" only hurts its sender: trusted.
    for result in headers.get("authentication-results", []):
        failed = _AUTH_FAILURE.search(result)
        if failed:
            mail.auth_failure = f"{failed.group(1).lower()}=fail"
            break


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
        _fill_headers(mail, header_map(head), [])
        mail.quarantine_reason = "too large"
        return mail
    raw, repair = repair_header_block(raw)
    if repair.note:
        mail.problems.append(repair.note)
    if repair.unreadable:
        mail.quarantine_reason = repair.unreadable
        return mail
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = header_map(msg)
    hints = declared_charsets(raw)
    _fill_headers(mail, headers, hints)
    leaves = 0
    for part in msg.walk():
        if not part.is_multipart():
            leaves += 1
            if leaves > max_parts:
                mail.quarantine_reason = "too many parts"
                return mail
    body = _Body(hints=hints)
    _walk(msg, body, mail.problems, 0, False)
    text, raw_html = _finish_body(body)
    mail.text = text
    mail.html = clean_html(raw_html) if raw_html is not None else None
    mail.signed = body.signed
    for number, attachment in enumerate(body.attachments, start=1):
        if not attachment.filename:
            extension = _extension(attachment.content_type, attachment.data)
            attachment.filename = f"attachment-{number}{extension}"
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
