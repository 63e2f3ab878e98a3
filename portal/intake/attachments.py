"""Attachments: decide a file's type by its bytes, strip image metadata, store content-addressed.

Checking (``check_files``) is pure: it returns CheckedFile objects or raises
AttachmentRefused with one Chinese message per refused file, each naming the file.
Storing (``StoreTransaction``) writes each file under a temporary name, links it into
``<UPLOADS_PATH>/<sha[:2]>/<sha>`` and, if the caller's database transaction fails, removes
exactly the files this call created — never one an earlier submission already stored.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

import filetype
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from flask import Response

    from portal.intake.models import Attachment

# Refuse images whose pixel count could exhaust memory when decoded (a "decompression bomb").
MAX_IMAGE_PIXELS = 60_000_000
# A DOCX/XLSX/OFD that inflates beyond this, or has this many members, is treated as a bomb.
MAX_ZIP_INFLATED = 300 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000
# Small trailing junk after an image or PDF is common; more than this is refused.
MAX_TRAILER = 64 * 1024


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # lazily translated: shown in refusal messages
    content_type: str
    extensions: tuple[str, ...]  # the first is appended to a name without extension


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("pdf", "PDF", "application/pdf", (".pdf",)),
        Kind("jpeg", _l("JPEG图片"), "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif")),
        Kind("png", _l("PNG图片"), "image/png", (".png",)),
        Kind("webp", _l("WebP图片"), "image/webp", (".webp",)),
        Kind(
            "docx",
            _l("Word（DOCX）"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
        ),
        Kind(
            "xlsx",
            _l("Excel（XLSX）"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (".xlsx",),
        ),
        Kind("ofd", "OFD", "application/ofd", (".ofd",)),
        Kind("text", _l("纯文本"), "text/plain; charset=utf-8", (".txt", ".csv", ".text", ".log")),
    )
}
IMAGE_KINDS = frozenset({"jpeg", "png", "webp"})
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

# Names for types we refuse, shown to the citizen.
REFUSED_LABELS = {
    "exe": _l("Windows可执行文件"),
    "elf": _l("Linux可执行文件"),
    "macho": _l("macOS可执行文件"),
    "script": _l("脚本文件"),
    "zip": _l("ZIP压缩包"),
    "rar": _l("RAR压缩包"),
    "7z": _l("7z压缩包"),
    "gz": _l("gzip压缩包"),
    "bz2": _l("bzip2压缩包"),
    "xz": _l("xz压缩包"),
    "tar": _l("tar归档"),
    "cab": _l("CAB压缩包"),
    "ole": _l("旧版Office文档（DOC/XLS）"),
    "macro": _l("含宏的Office文档"),
}
# Extensions that claim a refused type: used to say "x.exe 是Windows可执行文件".
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


class AttachmentRefused(ValueError):
    """One or more files refused; ``messages`` holds one Chinese sentence per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("".join(messages))
        self.messages = list(messages)

    @property
    def message(self) -> str:
        return "".join(self.messages)


class IncomingLike(Protocol):
    filename: str
    data: bytes
    content_type: str | None


@dataclass(frozen=True)
class CheckedFile:
    filename: str  # cleaned, with an extension that matches the content
    content_type: str
    data: bytes  # what is stored: images without metadata
    sha256: str
    kind: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Limits:
    max_files: int = 5
    max_file_bytes: int = 10 * 1024 * 1024
    max_total_bytes: int = 25 * 1024 * 1024

    @classmethod
    def from_config(cls, config: dict) -> Limits:
        return cls(
            int(config.get("UPLOAD_MAX_FILES", cls.max_files)),
            int(config.get("UPLOAD_MAX_FILE_BYTES", cls.max_file_bytes)),
            int(config.get("UPLOAD_MAX_TOTAL_BYTES", cls.max_total_bytes)),
        )


# --- names ----------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u200b-\u200f\u202a-\u202e\u2066-\u2069]')


def clean_filename(raw: str | None, index: int = 1) -> str:
    """A display name without path, control or bidi characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().strip(".")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext[:20])] + ext[:20]
    return name or f"附件{index}"


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


# --- detection (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    kind: str | None  # a key of KINDS when allowed
    refused: str | None = None  # a key of REFUSED_LABELS, or free Chinese text
    problem: str | None = None  # why an allowed-looking file is still refused (polyglot, broken)


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


def _looks_like_text(data: bytes) -> bool:
    return decode_text(data) is not None


def detect(data: bytes) -> Detection:
    """What the bytes are, whatever the file is called."""
    head = data[:512]
    if head.startswith(b"MZ"):
        return Detection(None, refused="exe")
    if head.startswith(b"\x7fELF"):
        return Detection(None, refused="elf")
    if head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ):
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
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _check_zip(data)
    for signature, refused in (
        (b"Rar!\x1a\x07", "rar"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"\x1f\x8b", "gz"),
        (b"BZh", "bz2"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"MSCF", "cab"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    ):
        if head.startswith(signature):
            return Detection(None, refused=refused)
    if data[257:262] == b"ustar":
        return Detection(None, refused="tar")
    if _looks_like_text(data):
        if _is_zip_readable(data):
            return Detection("text", problem="polyglot")
        return Detection("text")
    guessed = filetype.guess(data)
    if guessed is not None:
        return Detection(
            None, refused=_("%(mime)s（.%(ext)s）", mime=guessed.mime, ext=guessed.extension)
        )
    return Detection(None, refused=_("未知类型"))


# --- metadata stripping -------------------------------------------------------------------------


class ImageProblem(ValueError):
    pass


def strip_image_metadata(data: bytes, kind: str) -> bytes:
    """Re-encode without EXIF/GPS/XMP/text chunks; orientation is applied to the pixels first."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        try:
            return _reencode(data, kind)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProblem("too_large") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageProblem("broken") from exc
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _reencode(data: bytes, kind: str) -> bytes:
    fmt = _PIL_FORMAT[kind]
    with Image.open(io.BytesIO(data)) as original:
        if original.format != fmt:
            raise ValueError(f"Pillow sees {original.format}, not {fmt}")
        icc = original.info.get("icc_profile")
        animated = getattr(original, "is_animated", False)
        out = io.BytesIO()
        if animated:
            # Frames are re-saved as they are; EXIF is simply not written.
            original.save(out, format=fmt, save_all=True, icc_profile=icc, exif=b"")
            return out.getvalue()
        image = ImageOps.exif_transpose(original) or original
        image.load()
        # Pillow re-writes some info entries (JPEG comments) on save: start from nothing.
        image.info = {}
        options: dict = {"icc_profile": icc} if icc else {}
        if kind == "jpeg":
            if image.mode not in ("RGB", "L", "CMYK"):
                image = image.convert("RGB")
            options.update(quality=92, optimize=True)
        elif kind == "webp":
            lossless = original.info.get("lossless", False)
            options.update(lossless=bool(lossless), quality=90)
        else:
            options.update(optimize=False)
        image.save(out, format=fmt, **options)
        return out.getvalue()


# --- checking (pure) -----------------------------------------------------------------------


def _refusal(name: str, detection: Detection, claimed: str) -> str | None:
    """The Chinese sentence refusing this file, or None when it is acceptable."""
    if detection.problem and detection.kind:
        label = KINDS[detection.kind].label
        if detection.problem == "polyglot":
            return _(
                "文件“%(name)s”在%(kind)s内容之外还藏有其他文件（可能是恶意构造），未接收。",
                name=name,
                kind=label,
            )
        return _("文件“%(name)s”已损坏，无法作为%(kind)s读取，未接收。", name=name, kind=label)
    detected_label = (
        KINDS[detection.kind].label
        if detection.kind
        else REFUSED_LABELS.get(detection.refused or "", detection.refused or _("未知类型"))
    )
    claimed_kind = CLAIMED_BY_EXTENSION.get(claimed)
    if claimed_kind is not None and claimed_kind.name != detection.kind:
        return _(
            "文件“%(name)s”不是真正的%(kind)s文件（检测为%(detected)s），未接收。",
            name=name,
            kind=claimed_kind.label,
            detected=detected_label,
        )
    if detection.kind is None:
        return _(
            "文件“%(name)s”是%(detected)s，不在允许的类型之内"
            "（允许PDF、JPEG、PNG、WebP、DOCX、XLSX、OFD和纯文本），未接收。",
            name=name,
            detected=detected_label,
        )
    if claimed and claimed_kind is None:
        return _(
            "文件“%(name)s”的扩展名“%(ext)s”与内容（%(detected)s）不符，未接收。",
            name=name,
            ext=claimed,
            detected=detected_label,
        )
    return None


def check_file(incoming: IncomingLike, index: int = 1, limits: Limits | None = None) -> CheckedFile:
    """Check one file; raises AttachmentRefused with a message naming it."""
    limits = limits or Limits()
    name = clean_filename(incoming.filename, index)
    data = incoming.data or b""
    if not data:
        raise AttachmentRefused([_("文件“%(name)s”是空文件，未接收。", name=name)])
    if len(data) > limits.max_file_bytes:
        raise AttachmentRefused(
            [
                _(
                    "文件“%(name)s”大小为%(size)s，超过单个文件%(max)s的上限，未接收。",
                    name=name,
                    size=_size_text(len(data)),
                    max=_size_text(limits.max_file_bytes),
                )
            ]
        )
    detection = detect(data)
    claimed = _extension(name)
    message = _refusal(name, detection, claimed)
    if message:
        raise AttachmentRefused([message])
    kind = KINDS[detection.kind]  # type: ignore[index]
    if not claimed:
        name += kind.extensions[0]
    if kind.name == "text":
        # Stored as UTF-8 whatever it came in, so staff tools need not guess the charset.
        data = (decode_text(data) or "").encode("utf-8")
    elif kind.name in IMAGE_KINDS:
        try:
            data = strip_image_metadata(data, kind.name)
        except ImageProblem as exc:
            if str(exc) == "too_large":
                raise AttachmentRefused(
                    [_("文件“%(name)s”的图片尺寸过大，未接收。", name=name)]
                ) from exc
            raise AttachmentRefused(
                [
                    _(
                        "文件“%(name)s”已损坏，无法作为%(kind)s读取，未接收。",
                        name=name,
                        kind=kind.label,
                    )
                ]
            ) from exc
    return CheckedFile(name, kind.content_type, data, hashlib.sha256(data).hexdigest(), kind.name)


def check_files(files: Sequence[IncomingLike], limits: Limits | None = None) -> list[CheckedFile]:
    """Check every file and the limits on count and total size; all problems in one refusal."""
    limits = limits or Limits()
    present = [f for f in files if f.data or (f.filename or "").strip()]
    problems: list[str] = []
    if len(present) > limits.max_files:
        problems.append(
            _("最多上传%(max)s个附件，本次提交了%(n)s个。", max=limits.max_files, n=len(present))
        )
    total = sum(len(f.data or b"") for f in present)
    if total > limits.max_total_bytes:
        problems.append(
            _(
                "附件总大小为%(size)s，超过%(max)s的上限。",
                size=_size_text(total),
                max=_size_text(limits.max_total_bytes),
            )
        )
    checked: list[CheckedFile] = []
    for index, incoming in enumerate(present, start=1):
        try:
            checked.append(check_file(incoming, index, limits))
        except AttachmentRefused as exc:
            problems.extend(exc.messages)
    if problems:
        raise AttachmentRefused(problems)
    return checked


# --- storage -------------------------------------------------------------------------------


def uploads_root() -> Path:
    from flask import current_app

    configured = current_app.config.get("UPLOADS_PATH")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def path_for(sha256: str, root: Path | None = None) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256 hex digest")
    return (root or uploads_root()) / sha256[:2] / sha256


class StoreTransaction:
    """Files written for one database transaction; ``rollback()`` removes what it created."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or uploads_root()
        self.created: list[Path] = []
        self.reused: dict[Path, bytes] = {}

    def store(self, checked: CheckedFile) -> Path:
        final = path_for(checked.sha256, self.root)
        if final.exists():
            self.reused[final] = checked.data
            return final
        if self._write_new(final, checked.data):
            self.created.append(final)
        else:
            self.reused[final] = checked.data
        return final

    def _write_new(self, final: Path, data: bytes) -> bool:
        """Temp file, fsync, then link(): atomic, and it fails if another writer won the race."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{final.name}.{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def rollback(self, still_referenced: set[str] | None = None) -> None:
        """Remove the files this transaction created, unless a committed row now uses them."""
        keep = still_referenced or set()
        for path in self.created:
            if path.name not in keep:
                path.unlink(missing_ok=True)
        self.created.clear()

    def after_commit(self) -> None:
        """Re-create any reused file that a concurrent, failed transaction removed meanwhile."""
        for final, data in self.reused.items():
            if not final.exists():
                self._write_new(final, data)
        self.created.clear()
        self.reused.clear()


def open_attachment(attachment: Attachment) -> Path:
    """The stored file of an attachment (raises FileNotFoundError when it is missing)."""
    path = path_for(attachment.sha256)
    if not path.is_file():
        raise FileNotFoundError(f"attachment {attachment.id} ({attachment.sha256}) is missing")
    return path


def content_disposition(filename: str) -> str:
    """attachment; an ASCII fallback plus RFC 5987 filename* for the real (Chinese) name."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", ascii_name).strip() or "attachment"
    ext = _extension(filename)
    if ext and not ascii_name.lower().endswith(ext):
        ascii_name = "attachment" + ext
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_attachment_response(attachment: Attachment) -> Response:
    """A download that no browser renders inline or sniffs (for staff views)."""
    from flask import send_file

    response = send_file(
        open_attachment(attachment),
        mimetype=attachment.content_type,
        as_attachment=False,
        conditional=True,
        etag=attachment.sha256,
        max_age=0,
    )
    response.headers["Content-Disposition"] = content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
