"""Parse a 巡察整改进展情况公示 (rectification notice) into its structure.

Pure logic, no Flask. Offices write the same kind of notice in many styles: half- or
full-width numbering, "针对“X”问题。一是…二是…" or "关于“X”的问题。整改情况：（1）…；（2）…",
headings such as "问题1：X" or "X的问题。整改情况：", sub-items each with its own status,
levels that shift (no 一、 level, numbered narrative items), status markers such as
（已完成整改）, CRLF, BOM, U+3000 indentation, and the website's own text around the notice
when it was copied from a web page. `parse_notice` accepts all of these and keeps the published
wording as written (contacts alone are normalised, because staff and mail code match them);
`extract_text` reads the .txt, .docx, PDF and HTML files editors upload.

Modules: structure (the dataclasses), patterns (wording and numbering), chrome (website text),
classify (each line's role), roles (roles given in the preview), findings (one finding's text),
build (structure from roles), closing (contacts, preamble counts), notice (parse_notice),
extract and its docx_text/pdf_text/html_text readers.
"""

from portal.notices.parse.chrome import FOOTER_PATTERNS
from portal.notices.parse.extract import NoticeFormatError, extract_text
from portal.notices.parse.notice import parse_notice
from portal.notices.parse.roles import carry_over
from portal.notices.parse.structure import (
    ROLES,
    Category,
    Contacts,
    Finding,
    LineRole,
    Measure,
    NoticeParseError,
    ParsedNotice,
    ParseWarning,
    Section,
    Subsection,
)

__all__ = [
    "FOOTER_PATTERNS",
    "ROLES",
    "Category",
    "Contacts",
    "Finding",
    "LineRole",
    "Measure",
    "NoticeFormatError",
    "NoticeParseError",
    "ParseWarning",
    "ParsedNotice",
    "Section",
    "Subsection",
    "carry_over",
    "extract_text",
    "parse_notice",
]
