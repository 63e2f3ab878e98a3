"""Charsets of inbound mail (pure, no Flask): bytes and header values to text.

Chinese mail clients label GB18030 text "gb2312", send Big5 unlabelled, misspell UTF-8 and
put raw 8-bit bytes in headers. Everything here decodes leniently and never raises: what went
wrong is appended to a ``problems`` list the caller keeps with the message.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

from portal.intake.sanitize import normalise_text

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


def decode(data: bytes, label: str | None, problems: list[str]) -> tuple[str, str]:
    """Decode a MIME part's bytes: (text, charset used); what went wrong goes into problems.

    GB2312-family labels decode as GB18030, Big5 as Big5-HKSCS; misspelled UTF-8 labels
    are mapped; a missing or unknown label tries utf-8, gb18030, big5 in that order. A
    correct explicit label is never overridden. Never raises: undecodable bytes become
    U+FFFD.
    """
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


_B64_ALPHABET = re.compile(rb"[^A-Za-z0-9+/=]")


def lenient_b64(text: str | bytes) -> tuple[bytes, bool]:
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


_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=")


def raw_to_text(value: str, problems: list[str]) -> str:
    """Header values arrive with 8-bit bytes as surrogates: decode those bytes by guessing."""
    if value.isascii():
        return value
    data = value.encode("utf-8", "surrogateescape")
    return decode(data, None, problems)[0]


def _b_decode(payload: str, problems: list[str]) -> bytes:
    data, bad = lenient_b64(payload)
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
    value = raw_to_text(value, problems)
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode(bytes(pending), pending_charset, problems)[0])
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
