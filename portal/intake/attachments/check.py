"""Checking uploaded files: accepted ones come back cleaned, refused ones get a message each.

``check_files`` returns CheckedFile objects (the bytes to store: pictures and documents without
the metadata naming their author, text as UTF-8) or raises AttachmentRefused with one sentence
per problem, each naming the file, in the reader's language: wrong type, too large, too many
pixels, active content (macros, OLE, PDF actions). No request is needed: the web form, mail
ingest, staff intake, quarantine release and the CLI all use these same checks.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.intake.attachments.documents import DocumentProblem, clean_document
from portal.intake.attachments.images import MAX_IMAGE_PIXELS, ImageProblem, strip_image_metadata
from portal.intake.attachments.sniff import (
    CLAIMED_BY_EXTENSION,
    IMAGE_KINDS,
    KINDS,
    Detection,
    Kind,
    decode_text,
    detect,
)

# How each kind is named in a refusal (lazy: rendered in the reader's language).
KIND_LABELS: dict[str, Any] = {
    "pdf": "PDF",
    "jpeg": _l("JPEG图片"),
    "png": _l("PNG图片"),
    "webp": _l("WebP图片"),
    "gif": _l("GIF图片"),
    "docx": _l("Word（DOCX）"),
    "xlsx": _l("Excel（XLSX）"),
    "ofd": "OFD",
    "text": _l("纯文本"),
}
REFUSED_LABELS: dict[str, Any] = {
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
    "unknown": _l("未知类型"),
}


class AttachmentRefused(ValueError):
    """One or more files refused; ``messages`` holds one sentence per problem."""

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
    max_image_pixels: int = MAX_IMAGE_PIXELS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            int(config.get("UPLOAD_MAX_FILES", cls.max_files)),
            int(config.get("UPLOAD_MAX_FILE_BYTES", cls.max_file_bytes)),
            int(config.get("UPLOAD_MAX_TOTAL_BYTES", cls.max_total_bytes)),
            int(config.get("UPLOAD_MAX_IMAGE_PIXELS", cls.max_image_pixels)),
        )


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


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _detected_label(detection: Detection) -> Any:
    if detection.kind:
        return KIND_LABELS[detection.kind]
    if detection.guess is not None:
        mime, ext = detection.guess
        return _("%(mime)s（.%(ext)s）", mime=mime, ext=ext)
    return REFUSED_LABELS.get(detection.refused or "unknown", REFUSED_LABELS["unknown"])


def _verdict(name: str, detection: Detection, claimed: str) -> Kind | str:
    """The kind the file is accepted as, or the sentence refusing it."""
    if detection.refused == "macro":
        return _document_problem(name, "macro")
    if detection.problem and detection.kind:
        label = KIND_LABELS[detection.kind]
        if detection.problem == "polyglot":
            return _(
                "文件“%(name)s”在%(kind)s内容之外还藏有其他文件（可能是恶意构造），未接收。",
                name=name,
                kind=label,
            )
        return _("文件“%(name)s”已损坏，无法作为%(kind)s读取，未接收。", name=name, kind=label)
    detected_label = _detected_label(detection)
    claimed_kind = CLAIMED_BY_EXTENSION.get(claimed)
    if claimed_kind is not None and claimed_kind.name != detection.kind:
        return _(
            "文件“%(name)s”不是真正的%(kind)s文件（检测为%(detected)s），未接收。",
            name=name,
            kind=KIND_LABELS[claimed_kind.name],
            detected=detected_label,
        )
    if detection.kind is None:
        return _(
            "文件“%(name)s”是%(detected)s，不在允许的类型之内"
            "（允许PDF、JPEG、PNG、WebP、GIF、DOCX、XLSX、OFD和纯文本），未接收。",
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
    return KINDS[detection.kind]


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.0f}"


def _clean_image(name: str, data: bytes, kind: Kind, max_pixels: int) -> bytes:
    try:
        return strip_image_metadata(data, kind.name, max_pixels)
    except ImageProblem as exc:
        if str(exc) == "too_large":
            raise AttachmentRefused(
                [
                    _(
                        "文件“%(name)s”的图片尺寸过大（超过%(max)s百万像素，动图按所有帧合计），"
                        "未接收。请缩小图片或截取需要的部分后重新上传。",
                        name=name,
                        max=_megapixels(max_pixels),
                    )
                ]
            ) from exc
        raise AttachmentRefused([_broken(name, kind)]) from exc


def _broken(name: str, kind: Kind) -> str:
    return _(
        "文件“%(name)s”已损坏，无法作为%(kind)s读取，未接收。",
        name=name,
        kind=KIND_LABELS[kind.name],
    )


# Documents that may carry active content or their author's name (documents.clean_document).
DOCUMENT_KINDS = frozenset({"pdf", "docx", "xlsx"})
_SAVE_AS = _l("请另存为PDF或截图后重新上传。")
DOCUMENT_PROBLEMS: dict[str, Any] = {
    "macro": _l("含有宏（VBA或Excel 4.0宏表），打开时可能运行程序"),
    "embedded_object": _l("内嵌了OLE对象或ActiveX控件，打开时可能运行程序"),
    "external": _l("引用了外部模板或外部内容，打开时会自动从外部获取"),
    "dde": _l("含有DDE字段或DDE公式，打开时可能启动其他程序"),
    "script": _l("含有JavaScript脚本"),
    "launch": _l("含有启动外部程序或导入数据的动作"),
    "embedded_file": _l("内嵌了其他文件"),
    "auto_action": _l("含有打开或浏览时自动执行的动作"),
}


def _document_problem(name: str, reason: str) -> str:
    return _(
        "文件“%(name)s”%(problem)s，为防范恶意代码未接收。%(advice)s",
        name=name,
        problem=DOCUMENT_PROBLEMS[reason],
        advice=_SAVE_AS,
    )


def _clean_document(name: str, data: bytes, kind: Kind) -> bytes:
    try:
        return clean_document(data, kind.name)
    except DocumentProblem as exc:
        if exc.reason == "encrypted":
            message = _(
                "文件“%(name)s”设有打开密码，工作人员无法打开，未接收。请去掉密码后重新上传。",
                name=name,
            )
        elif exc.reason in DOCUMENT_PROBLEMS:
            message = _document_problem(name, exc.reason)
        else:
            message = _broken(name, kind)
        raise AttachmentRefused([message]) from exc


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
    claimed = os.path.splitext(name)[1].lower()
    kind = _verdict(name, detect(data), claimed)
    if isinstance(kind, str):
        raise AttachmentRefused([kind])
    if not claimed:
        name += kind.extensions[0]
    if kind.name == "text":
        # Stored as UTF-8 whatever it came in, so staff tools need not guess the charset.
        data = (decode_text(data) or "").encode("utf-8")
    elif kind.name in IMAGE_KINDS:
        data = _clean_image(name, data, kind, limits.max_image_pixels)
    elif kind.name in DOCUMENT_KINDS:
        data = _clean_document(name, data, kind)
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
