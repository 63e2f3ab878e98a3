"""Charsets of inbound mail (pure, no Flask): bytes and header values to text.

Chinese mail clients label GB18030 text "gb2312", send Big5 unlabelled, misspell UTF-8 and
put raw 8-bit bytes in headers. Everything here decodes leniently and never raises: what went
wrong is appended to a ``problems`` list the caller keeps with the message.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import quopri
import re
import unicodedata
from collections.abc import Sequence

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
_SJIS_LABELS = frozenset(
    {"shift-jis", "shiftjis", "sjis", "x-sjis", "ms-kanji", "csshiftjis", "windows-31j", "cp932",
     "ms932", "x-ms-cp932"}
)  # fmt: skip
_ISO2022JP_LABELS = frozenset({"iso-2022-jp", "csiso2022jp", "iso2022jp", "iso-2022-jp-ms"})
# ISO-2022-JP re-read as CP932: NEC and IBM extensions (①, ㈱ …) that Japanese mailers send
# under the plain label, which the strict iso2022_jp codecs refuse.
ISO2022JP_CP932 = "iso2022jp-cp932"
_JIS_ESCAPE = re.compile(rb"\x1b\$[@B]|\x1b\([BJI]")
# A mix of UTF-8 and Latin-1 bytes (one client quoting another): UTF-8 where it is valid,
# each other byte as windows-1252.
UTF8_LATIN1 = "utf-8+cp1252"
# Below this mean character score a clean decoding is still taken for junk.
MIN_PLAUSIBLE = 0.5
MIN_MIXED = 0.75


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
    if name in _SJIS_LABELS:
        return ["cp932", "shift_jis"], None
    if name in _ISO2022JP_LABELS:
        return ["iso2022_jp", "iso2022_jp_ext", ISO2022JP_CP932], None
    try:
        if not re.fullmatch(r"[a-z0-9.:+\-]{1,40}", name):
            raise LookupError(name)
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return [], f"unknown charset {str(label)[:40]!r}; guessed"
    if not getattr(info, "_is_text_encoding", True):  # rot13, zlib, base64 …
        return [], f"charset {label!r} is not a text encoding; guessed"
    return [info.name], None


def _jis_to_sjis(first: int, second: int) -> bytes:
    lead = (first + 1) // 2 + (0x70 if first <= 0x5E else 0xB0)
    trail = second + ((0x1F if second <= 0x5F else 0x20) if first % 2 else 0x7E)
    return bytes((lead, trail))


def _iso2022jp_as_cp932(data: bytes) -> str:
    """ISO-2022-JP re-coded to Shift_JIS byte by byte and read as CP932 (raises on junk)."""
    out = bytearray()
    mode = b"B"
    pos = 0
    for match in [*_JIS_ESCAPE.finditer(data), None]:
        end = match.start() if match else len(data)
        chunk = data[pos:end]
        if mode in (b"@", b"$B"):
            if len(chunk) % 2 or any(not 0x21 <= b <= 0x7E for b in chunk):
                raise UnicodeDecodeError("iso2022jp-cp932", data, pos, end, "bad JIS pair")
            for i in range(0, len(chunk), 2):
                out += _jis_to_sjis(chunk[i], chunk[i + 1])
        elif mode == b"I":
            out += bytes(b + 0x80 for b in chunk)
        else:
            out += chunk
        if match:
            seq = match.group()
            mode = b"$B" if seq[1:2] == b"$" else seq[2:3]
            pos = match.end()
    return out.decode("cp932")


def _utf8_latin1_handler(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    byte = exc.object[exc.start : exc.start + 1]
    return byte.decode("cp1252", errors="replace").replace("\ufffd", byte.decode("latin-1")), (
        exc.start + 1
    )


codecs.register_error("portal-utf8-cp1252", _utf8_latin1_handler)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        if codec == ISO2022JP_CP932:
            return _iso2022jp_as_cp932(data)
        if codec == UTF8_LATIN1:
            return data.decode("utf-8", errors="portal-utf8-cp1252")
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


@functools.lru_cache(maxsize=65536)
def _char_score(ch: str) -> float:
    """How likely one character is in a citizen's mail: 1 common, 0 junk, -2 U+FFFD."""
    if ch.isascii():
        return 1.0 if ch.isprintable() or ch in "\r\n\t" else 0.0
    if ch == "\ufffd":
        return -2.0
    code = ord(ch)
    if 0x3040 <= code <= 0x30FF or 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E:
        return 1.0  # kana, CJK punctuation, full-width forms
    if 0x3400 <= code <= 0x9FFF:
        for codec, score in (("gb2312", 1.0), ("big5", 0.9), ("shift_jis", 0.7)):
            try:
                ch.encode(codec)
            except UnicodeEncodeError:
                continue
            return score
        return 0.3  # a rare ideograph: possible, but what mojibake is made of
    category = unicodedata.category(ch)
    if category in ("Cc", "Co", "Cs", "Cn"):
        return 0.0
    if 0xC0 <= code <= 0x17F or 0x2010 <= code <= 0x2026 or 0xAC00 <= code <= 0xD7A3:
        return 0.8  # accented Latin, typographic punctuation, Hangul
    if category.startswith("L"):
        return 0.4
    return 0.2


def plausibility(text: str) -> float:
    """Mean likelihood of the text's characters in a citizen's mail (1.0: all common)."""
    if not text:
        return 0.0
    return sum(_char_score(ch) for ch in text) / len(text)


def _hint_codecs(hints: Sequence[str]) -> list[str]:
    out: list[str] = []
    for hint in hints:
        tried, _note = _codecs_for_label(hint)
        for codec in tried:
            if codec not in out:
                out.append(codec)
    return out


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


def _guess(data: bytes, hints: Sequence[str] = ()) -> tuple[str, str] | None:
    """The most plausible clean decoding: UTF-8 when valid, else whichever of the message's
    own charsets, GB18030, Big5 and CP932 reads most like text (earlier wins a tie)."""
    if _JIS_ESCAPE.search(data):
        for codec in ("iso2022_jp", ISO2022JP_CP932):
            text = _strict(data, codec)
            if text is not None:
                return text, codec
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    best: tuple[float, str, str] | None = None
    for codec in dict.fromkeys([*_hint_codecs(hints), "gb18030", "big5hkscs", "cp932"]):
        text = _strict(data, codec)
        if text is None:
            continue
        score = plausibility(text)
        if score < MIN_PLAUSIBLE:
            continue  # decodes, but into junk (CP932 takes almost any byte pair)
        if codec == "gb18030" and not _looks_like_big5(text):
            score += 0.02  # the usual case for a Chinese portal wins a near tie
        if best is None or score > best[0]:
            best = (score, text, codec)
    return (best[1], best[2]) if best is not None else None


def _least_damaged(data: bytes, codecs_: list[str]) -> tuple[str, str]:
    """Lenient decode with whichever codec reads most like text: replacement characters count
    against a guess, but so do the rare characters mojibake is made of."""
    best: tuple[float, str, str] | None = None
    for codec in [*codecs_, UTF8_LATIN1]:
        if codec == UTF8_LATIN1:
            text = data.decode("utf-8", errors="portal-utf8-cp1252")
            if plausibility(text) < MIN_MIXED:
                continue  # Latin-1 reads any byte: only a reading that looks like text counts
        elif codec == ISO2022JP_CP932:
            continue
        else:
            text = data.decode(codec, errors="replace")
        score = plausibility(text)
        if best is None or score > best[0]:
            best = (score, text, codec)
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


def decode(
    data: bytes, label: str | None, problems: list[str], hints: Sequence[str] = ()
) -> tuple[str, str]:
    """Decode a MIME part's bytes: (text, charset used); what went wrong goes into problems.

    GB2312-family labels decode as GB18030, Big5 as Big5-HKSCS; misspelled UTF-8 labels
    are mapped; a missing or unknown label takes the most plausible reading (``hints``: the
    charsets the message declares elsewhere, tried first). A correct explicit label is never
    overridden. Never raises: undecodable bytes become U+FFFD.
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
    guessed = _guess(data, hints)
    if guessed is not None:
        if tried:
            problems.append(f"bytes do not match charset {label!r}; decoded as {guessed[1]}")
        return guessed[0].replace("\ufeff", ""), guessed[1]
    order = [*tried[:1], *_hint_codecs(hints), *_GUESS_ORDER]
    text, codec = _least_damaged(data, list(dict.fromkeys(order)))
    if codec == UTF8_LATIN1 and "\ufffd" not in text:
        problems.append("UTF-8 and Latin-1 bytes mixed; decoded each as what it is")
        return text.replace("\ufeff", ""), codec
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


def raw_to_text(value: str, problems: list[str], hints: Sequence[str] = ()) -> str:
    """Header values arrive with 8-bit bytes as surrogates: decode those bytes by guessing,
    the message's own declared charsets first."""
    if value.isascii() and "\x1b" not in value:
        return value
    data = value.encode("utf-8", "surrogateescape")
    return decode(data, None, problems, hints)[0]


_DECLARED = re.compile(
    rb"""(?i)charset\s*=\s*["']?([A-Za-z0-9_.:\-]{2,40})|=\?([A-Za-z0-9_.:\-]{2,40})(?:\*[^?]*)?\?[bq]\?"""
)


def declared_charsets(raw: bytes, limit: int = 256 * 1024) -> list[str]:
    """The charsets a message names anywhere (part labels, encoded words), most used first:
    hints for its unlabelled bytes."""
    counts: dict[str, int] = {}
    for match in _DECLARED.finditer(raw[:limit]):
        label = (match.group(1) or match.group(2)).decode("ascii").lower()
        if _canonical_label(label) in _NO_LABEL or _UTF8_LABEL.fullmatch(_canonical_label(label)):
            continue
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts, key=lambda k: -counts[k])


def _b_decode(payload: str, problems: list[str]) -> bytes:
    data, bad = lenient_b64(payload)
    if bad:
        problems.append("bad base64 in an encoded header word")
    return data


def _q_decode(payload: str) -> bytes:
    data = payload.replace("_", " ").encode("ascii", "ignore")
    return quopri.decodestring(data)


def decode_header_text(
    value: str | None, problems: list[str] | None = None, hints: Sequence[str] = ()
) -> str:
    """RFC 2047 words (adjacent words joined before decoding) and raw 8-bit bytes -> str."""
    if not value:
        return ""
    problems = [] if problems is None else problems
    value = re.sub(r"\r?\n[ \t]", " ", value)
    value = re.sub(r"[\r\n]", "", value)
    value = raw_to_text(value, problems, hints)
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
