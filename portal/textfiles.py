"""Text files as offices send them: the one place that guesses a file's encoding."""

from __future__ import annotations


def decode_text_file(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030, as Chinese Windows and
    Excel save text (GB18030 is a superset of GBK and GB2312). A stray byte becomes U+FFFD
    instead of refusing a whole file for it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")
