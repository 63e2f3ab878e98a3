"""ASVS 5.2.3: a DOCX/XLSX (a zip) is checked against its uncompressed size and member count
before anything is unpacked."""

from __future__ import annotations

import struct

from portal.intake.attachments import check_file
from portal.intake.attachments.sniff import MAX_ZIP_INFLATED, MAX_ZIP_MEMBERS
from portal.intake.service import IncomingFile
from tests.fixtures.intake import CONTENT_TYPES, gen_docx, gen_zip
from tests.test_attachments import refusal


def _claiming_size(data: bytes, size: int) -> bytes:
    """The zip with the uncompressed size its central directory states for every member set to
    ``size`` (what a bomb declares; nothing is inflated to find out)."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        struct.pack_into("<I", out, pos + 24, size)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def test_a_docx_declaring_more_than_the_inflated_cap_is_refused() -> None:
    docx = gen_docx()
    assert check_file(IncomingFile("ok.docx", docx)).data  # the same file, true sizes: fine
    refusal("bomb.docx", _claiming_size(docx, MAX_ZIP_INFLATED + 1))
    refusal("bomb.docx", _claiming_size(docx, MAX_ZIP_INFLATED // 2))  # together over the cap


def test_a_docx_with_too_many_members_is_refused() -> None:
    members = {"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<d/>"}
    members.update({f"word/media/{i}.bin": b"" for i in range(MAX_ZIP_MEMBERS - 2)})
    assert len(members) == MAX_ZIP_MEMBERS
    assert check_file(IncomingFile("enough.docx", gen_zip(members))).data  # exactly the cap
    members["word/media/one-more.bin"] = b""
    refusal("many.docx", gen_zip(members))
