"""Reading what a citizen typed from a request too large to accept (the files are dropped).

A form POST over MAX_CONTENT_LENGTH is refused before anything is read. For the feedback form
that would discard the citizen's text with the files, so the request is read up to a second,
larger cap: text fields are kept (werkzeug's own memory limits apply), file parts are streamed
into nothing. Beyond that cap, or without a Content-Length, nothing is read at all.
"""

from __future__ import annotations

import io
from typing import IO, Any, cast

from flask import request
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser


class _Discard(io.RawIOBase):
    """Where an oversized request's files go: nowhere."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return 0


def _discard_stream(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None,
    content_length: int | None = None,
) -> IO[bytes]:
    return cast(IO[bytes], _Discard())


def text_fields_only(read_cap: int) -> MultiDict[str, str] | None:
    """The request's text fields, reading at most ``read_cap`` bytes; None when it is longer
    (or chunked): then nothing has been read."""
    length = request.content_length
    if not length or length > read_cap:
        return None
    request.max_content_length = read_cap  # this request only (Flask 3.1)
    parser = FormDataParser(
        stream_factory=_discard_stream,
        max_form_memory_size=request.max_form_memory_size,
        max_content_length=read_cap,
        max_form_parts=request.max_form_parts,
    )
    _stream, fields, _files = parser.parse(
        request.stream, request.mimetype, length, request.mimetype_params
    )
    return fields
