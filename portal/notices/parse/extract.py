"""What an editor uploads (.txt, .docx, PDF, the notice's web page) → the notice's plain text,
for parse_notice. The format is told from the file's bytes first, then its name and type."""

from __future__ import annotations

import re

from portal.notices.parse.docx_text import docx_text, is_docx
from portal.notices.parse.html_text import html_text
from portal.notices.parse.pdf_text import PdfTextError, pdf_text
from portal.textfiles import decode_text_file

_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta)", re.I | re.S
)


class NoticeFormatError(ValueError):
    """The upload is not a notice the portal can read; the message tells the editor why."""


def file_kind(data: bytes, filename: str = "", content_type: str | None = None) -> str:
    """ "pdf", "docx", "html" or "text"; NoticeFormatError for what cannot be read."""
    name = filename.lower()
    kind = (content_type or "").split(";")[0].strip().lower()
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if is_docx(data):
            return "docx"
        raise NoticeFormatError(
            "只能读取Word（.docx）文件；表格、压缩包等其他文件请另存为.docx或文本"
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise NoticeFormatError("这是旧版Word（.doc）或WPS文件：请在Word或WPS中另存为.docx后上传")
    if data.startswith(b"{\\rtf"):
        raise NoticeFormatError("这是RTF文件：请另存为.docx后上传")
    if data[:4] in (b"\x89PNG", b"GIF8") or data[:3] == b"\xff\xd8\xff":
        raise NoticeFormatError("这是图片：请上传带文字的PDF、Word文件或网页，或粘贴文本")
    if kind in ("text/html", "application/xhtml+xml") or name.endswith((".html", ".htm", ".shtml")):
        return "html"
    if _HTML_START.match(data[:2048].lstrip(b"\xef\xbb\xbf")):
        return "html"
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NoticeFormatError("无法识别的文件格式：请上传 .txt、.docx、PDF 或网页文件")
    return "text"


def extract_text(data: bytes, filename: str = "", content_type: str | None = None) -> str:
    """The plain text of an uploaded notice, ready for parse_notice."""
    kind = file_kind(data, filename, content_type)
    if kind == "pdf":
        try:
            return pdf_text(data)
        except PdfTextError as exc:
            raise NoticeFormatError(str(exc)) from exc
        except Exception as exc:  # a damaged file fails in many ways inside pypdf
            raise NoticeFormatError(f"无法读取PDF：{type(exc).__name__}") from exc
    if kind == "docx":
        try:
            return docx_text(data)
        except Exception as exc:  # a damaged archive fails in many ways inside python-docx
            raise NoticeFormatError(f"无法读取Word文件：{type(exc).__name__}") from exc
    if kind == "html":
        return html_text(data, content_type)
    return decode_text_file(data)
