"""What a file is, decided by its bytes whatever it is called (pure: no Flask, no messages).

Allowed kinds are recognised by their magic bytes and, for images and PDFs, walked to their
logical end: bytes hidden behind it (a ZIP or an executable appended to a picture, a
"polyglot") make the file suspect. Office and OFD documents are ZIP containers whose members
tell a document from a macro-carrying one or a plain archive; archives of any other kind,
executables and scripts are refused.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

import filetype

# A DOCX/XLSX/OFD that inflates beyond this, or has this many members, is treated as a bomb.
MAX_ZIP_INFLATED = 300 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000
# Small trailing junk after an image or PDF is common; more than this is refused.
MAX_TRAILER = 64 * 1024


@dataclass(frozen=True)
class Kind:
    name: str
    content_type: str
    extensions: tuple[str, ...]  # the first is appended to a name without extension


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("pdf", "application/pdf", (".pdf",)),
        Kind("jpeg", "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif")),
        Kind("png", "image/png", (".png",)),
        Kind("webp", "image/webp", (".webp",)),
        Kind("gif", "image/gif", (".gif",)),
        Kind(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
        ),
        Kind(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (".xlsx",),
        ),
        Kind("ofd", "application/ofd", (".ofd",)),
        Kind("text", "text/plain; charset=utf-8", (".txt", ".csv", ".text", ".log")),
    )
}
IMAGE_KINDS = frozenset({"jpeg", "png", "webp", "gif"})
# The kind a file's extension claims, to tell "x.pdf is not a PDF" from "x.exe is refused".
CLAIMED_BY_EXTENSION = {ext: kind for kind in KINDS.values() for ext in kind.extensions}

_ARCHIVE_OR_EXEC_SIGNATURES = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x7fELF",
    b"This program cannot be run in DOS mode",
    b"%PDF-",
)


@dataclass(frozen=True)
class Detection:
    kind: str | None  # a key of KINDS when the type is allowed
    # Why a file is refused by type: "exe", "elf", "macho", "script", "zip", "rar", "7z", "gz",
    # "bz2", "xz", "tar", "cab", "ole", "macro", "other" (named by ``guess``) or "unknown".
    refused: str | None = None
    problem: str | None = None  # why an allowed-looking file is still refused: polyglot, broken
    guess: tuple[str, str] | None = None  # (MIME type, extension) of an "other" refused file


def _trailer_has_payload(trailer: bytes) -> bool:
    """True when bytes after a file's logical end hide another file."""
    stripped = trailer.strip(b"\x00\r\n\t ")
    if not stripped:
        return False
    if stripped.startswith(b"MZ") or b"PE\x00\x00" in stripped[:4096]:
        return True
    if any(sig in stripped for sig in _ARCHIVE_OR_EXEC_SIGNATURES):
        return True
    return len(stripped) > MAX_TRAILER


def _is_zip_readable(data: bytes) -> bool:
    """A zip reader finds an archive from its end record, wherever the file starts."""
    try:
        return zipfile.is_zipfile(io.BytesIO(data))
    except Exception:  # zipfile raises several types on garbage
        return False


def _jpeg_end(data: bytes) -> int | None:
    """Offset just after the primary image's EOI marker, walking the segment structure."""
    pos = 2
    length = len(data)
    while pos + 2 <= length:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > length:
            return None
        seg_len = int.from_bytes(data[pos + 2 : pos + 4], "big")
        pos += 2 + seg_len
        if marker == 0xDA:  # start of scan: entropy-coded data until a real marker
            while pos + 1 < length:
                if (
                    data[pos] == 0xFF
                    and data[pos + 1] not in (0x00, 0xFF)
                    and not (0xD0 <= data[pos + 1] <= 0xD7)
                ):
                    break
                pos += 1
    return None


def _png_end(data: bytes) -> int | None:
    pos = 8
    while pos + 12 <= len(data):
        chunk_len = int.from_bytes(data[pos : pos + 4], "big")
        chunk_type = data[pos + 4 : pos + 8]
        pos += 12 + chunk_len
        if chunk_type == b"IEND":
            return pos
    return None


def _gif_sub_blocks_end(data: bytes, pos: int) -> int | None:
    """Offset after a chain of data sub-blocks (length byte, data) ending with a zero length."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return None


def _gif_end(data: bytes) -> int | None:
    """Offset just after the GIF trailer (0x3B), walking header, extensions and frames."""
    if len(data) < 13:
        return None
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:
            return pos + 1
        if block == 0x21:  # extension: label, then sub-blocks
            end = _gif_sub_blocks_end(data, pos + 2)
        elif block == 0x2C and pos + 10 <= len(data):  # image: descriptor, palette, LZW data
            local = data[pos + 9]
            pos += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            end = _gif_sub_blocks_end(data, pos + 1)
        else:
            return None
        if end is None:
            return None
        pos = end
    return None


def _pdf_end(data: bytes) -> int | None:
    index = data.rfind(b"%%EOF")
    return None if index < 0 else index + 5


def _check_image_or_pdf(kind: str, data: bytes) -> Detection:
    if kind == "jpeg":
        end = _jpeg_end(data)
        if end is not None and data[end:].lstrip(b"\x00").startswith(b"\xff\xd8\xff"):
            # Multi-picture JPEG (MPF): secondary images follow the primary one.
            trailer = b"".join(_non_jpeg_bytes(data[end:]))
        else:
            trailer = data[end:] if end is not None else b""
    elif kind == "png":
        end = _png_end(data)
        trailer = data[end:] if end is not None else b""
    elif kind == "webp":
        end = 8 + int.from_bytes(data[4:8], "little")
        trailer = data[end + (end % 2) :]
    elif kind == "gif":
        end = _gif_end(data)
        trailer = data[end:] if end is not None else b""
    else:
        end = _pdf_end(data)
        if end is None:
            return Detection(kind, problem="broken")
        trailer = data[end:]
    if kind != "pdf" and end is None:
        return Detection(kind, problem="broken")
    if _trailer_has_payload(trailer) or (kind != "pdf" and _is_zip_readable(data)):
        return Detection(kind, problem="polyglot")
    if kind == "pdf" and (_is_zip_readable(data) or data[:1024].count(b"MZ\x90\x00")):
        return Detection(kind, problem="polyglot")
    return Detection(kind)


def _non_jpeg_bytes(trailer: bytes) -> Iterable[bytes]:
    """What is left of a trailer of concatenated JPEGs once each JPEG is skipped."""
    pos = 0
    while pos < len(trailer):
        rest = trailer[pos:]
        stripped = rest.lstrip(b"\x00")
        pos += len(rest) - len(stripped)
        if not stripped.startswith(b"\xff\xd8\xff"):
            yield stripped
            return
        end = _jpeg_end(stripped)
        if end is None:
            return
        pos += end


def _check_zip(data: bytes) -> Detection:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return Detection(None, refused="zip")
    names = {info.filename for info in infos}
    lower = {name.lower() for name in names}
    if len(infos) > MAX_ZIP_MEMBERS or sum(i.file_size for i in infos) > MAX_ZIP_INFLATED:
        return Detection(None, refused="zip")
    if "[Content_Types].xml" in names:
        if any(name.endswith("vbaproject.bin") for name in lower):
            return Detection(None, refused="macro")
        if any(name.startswith("word/") for name in names):
            return Detection("docx")
        if any(name.startswith("xl/") for name in names):
            return Detection("xlsx")
    if "ofd.xml" in lower:
        return Detection("ofd")
    return Detection(None, refused="zip")


def decode_text(data: bytes) -> str | None:
    """The text of a UTF-8 or GB18030 file without NUL bytes, or None when it is not text."""
    if b"\x00" in data:
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    for encoding in ("utf-8", "gb18030"):
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(
            1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"
        )
        return text if controls <= max(2, len(text) // 1000) else None
    return None


_MACHO_MAGIC = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
_REFUSED_SIGNATURES = (
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"MSCF", "cab"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
)


def detect(data: bytes) -> Detection:
    """What the bytes are, whatever the file is called."""
    head = data[:512]
    if head.startswith(b"MZ"):
        return Detection(None, refused="exe")
    if head.startswith(b"\x7fELF"):
        return Detection(None, refused="elf")
    if head[:4] in _MACHO_MAGIC:
        return Detection(None, refused="macho")
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"#!"):
        return Detection(None, refused="script")
    if head.startswith(b"%PDF-"):
        return _check_image_or_pdf("pdf", data)
    if head.startswith(b"\xff\xd8\xff"):
        return _check_image_or_pdf("jpeg", data)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _check_image_or_pdf("png", data)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _check_image_or_pdf("webp", data)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _check_image_or_pdf("gif", data)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _check_zip(data)
    for signature, refused in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return Detection(None, refused=refused)
    if data[257:262] == b"ustar":
        return Detection(None, refused="tar")
    if decode_text(data) is not None:
        if _is_zip_readable(data):
            return Detection("text", problem="polyglot")
        return Detection("text")
    guessed = filetype.guess(data)
    if guessed is not None:
        return Detection(None, refused="other", guess=(guessed.mime, guessed.extension))
    return Detection(None, refused="unknown")
