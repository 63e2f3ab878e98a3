"""Documents without active content or their author's name (pure: pypdf, lxml, zipfile).

Staff open what citizens send on office computers, so a document that runs something when it
is opened is refused: Office macros (VBA and Excel 4 macro sheets), OLE objects and ActiveX
controls, templates or frames fetched from outside, DDE fields and formulas; PDFs with
JavaScript, launch actions, embedded files or automatic actions. What is kept is rewritten
without the metadata that names the submitter (PDF Info dictionary and XMP; the author, last
editor, company and manager of a DOCX/XLSX), as pictures lose their EXIF.

``clean_document`` returns the bytes to store or raises DocumentProblem with a reason:
macro, embedded_object, external, dde, script, launch, embedded_file, auto_action,
encrypted or broken.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

# A PDF whose object graph is larger than this is not walked to the end: refused as broken.
MAX_PDF_OBJECTS = 500_000

# PDF dictionary keys (names decoded, so /J#61vaScript is /JavaScript) that make a file active.
_PDF_ACTIVE_KEYS = {
    "/JS": "script",
    "/JavaScript": "script",
    "/Launch": "launch",
    "/EmbeddedFile": "embedded_file",
    "/EmbeddedFiles": "embedded_file",
    "/EF": "embedded_file",
    "/RichMedia": "embedded_file",
    "/AA": "auto_action",
}
# Action types (the /S of an action dictionary) that run something.
_PDF_ACTIVE_ACTIONS = {
    "/JavaScript": "script",
    "/Launch": "launch",
    "/ImportData": "launch",
    "/SubmitForm": "auto_action",
    "/RichMediaExecute": "embedded_file",
}

_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# The properties that name people, in docProps/core.xml and app.xml (looked for in both).
_PERSONAL_PROPERTIES = {
    ("http://purl.org/dc/elements/1.1/", "creator"),
    ("http://schemas.openxmlformats.org/package/2006/metadata/core-properties", "lastModifiedBy"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/extended-properties", "Company"),
    ("http://schemas.openxmlformats.org/officeDocument/2006/extended-properties", "Manager"),
}
# Relationship types (last path segment) that make a document active wherever the part lives.
_ACTIVE_REL_TYPES = {
    "vbaProject": "macro",
    "wordVbaData": "macro",
    "xlMacrosheet": "macro",
    "xlIntlMacrosheet": "macro",
    "oleObject": "embedded_object",
    "activeXControl": "embedded_object",
    "activeXControlBinary": "embedded_object",
}
# Targets outside the file: a link to click is fine, one fetched on opening is not.
_EXTERNAL_ALLOWED = {"hyperlink", "externalLinkPath"}
# A drive-letter path, optionally as file:///C:/..., or a relative path: on the reader's disk.
_LOCAL_PATH = re.compile(r"(?i)^(?:(?:file:///)?[a-z]:[\\/]|(?![a-z][a-z0-9+.-]*:|[\\/]{2}))")
_MACRO_CONTENT_TYPES = re.compile(rb"(?i)macroEnabled|macrosheet|vbaProject|vbaData")
_WORD_FIELD = re.compile(rb"<w:instrText[^>]*>([^<]*)</w:instrText>|w:instr=\"([^\"]*)\"")
# Field codes split over several runs are joined first ("DD" + "EAUTO" is still DDEAUTO).
_DDE_FIELD = re.compile(r"(?i)(?:^|[\s\"{])DDE(?:AUTO)?(?=\s|$)")
_DDE_FORMULA = re.compile(rb"<(?:\w+:)?f(?:\s[^>]*)?>[^<]*\w\s*\|[^<]*![^<]*</")
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class DocumentProblem(ValueError):
    """Why a document is refused (see the module docstring for the reasons)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_document(data: bytes, kind: str) -> bytes:
    """The document to store (metadata removed), or DocumentProblem when it is active."""
    if kind == "pdf":
        return _clean_pdf(data)
    if kind in ("docx", "xlsx"):
        return _clean_office(data)
    return data


# PDF ---------------------------------------------------------------------------------------


def _clean_pdf(data: bytes) -> bytes:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentProblem("encrypted")
        reason, signed = _pdf_scan(reader)
        if reason:
            raise DocumentProblem(reason)
        if not reader.pages:  # a damaged page tree: storing an empty PDF would lose the letter
            raise DocumentProblem("broken")
        if signed:
            # A signed PDF (an e-invoice, a certified copy) rewritten would no longer verify:
            # kept as sent, once no name anywhere in its bytes (older revisions too) is active.
            if _raw_active_names(data):
                raise DocumentProblem("script")
            return data
        return _pdf_without_metadata(reader)
    except DocumentProblem:
        raise
    except Exception as exc:  # a parser fed hostile bytes raises many types
        raise DocumentProblem("broken") from exc


def _pdf_objects(reader: PdfReader) -> Iterator[DictionaryObject | ArrayObject]:
    """Every dictionary and array reachable from the catalog, each indirect object once."""
    stack: list[object] = [reader.trailer.raw_get("/Root")]
    seen: set[tuple[int, int]] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            if len(seen) > MAX_PDF_OBJECTS:
                raise DocumentProblem("broken")
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            yield item
            stack.extend(item.raw_get(key) for key in item)
        elif isinstance(item, ArrayObject):
            yield item
            stack.extend(item)


def _pdf_scan(reader: PdfReader) -> tuple[str | None, bool]:
    """(why the PDF is active or None, whether it carries a digital signature). The reason is
    the most telling one: what an automatic action runs, else that there is one."""
    automatic = None
    signed = False
    for obj in _pdf_objects(reader):
        if not isinstance(obj, DictionaryObject):
            continue
        signed = signed or "/ByteRange" in obj
        for key in obj:
            if key in _PDF_ACTIVE_KEYS:
                return _PDF_ACTIVE_KEYS[key], signed
        action = obj.raw_get("/S") if "/S" in obj else None
        if isinstance(action, NameObject) and action in _PDF_ACTIVE_ACTIONS:
            return _PDF_ACTIVE_ACTIONS[action], signed
        if "/OpenAction" in obj and not _is_plain_destination(obj["/OpenAction"]):
            automatic = "auto_action"
    return automatic, signed


_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)


def _raw_active_names(data: bytes) -> bool:
    """Any active name in the file's bytes, #xx escapes decoded: covers revisions that the
    latest cross-reference table no longer points to (not compressed object streams)."""
    wanted = {name[1:].encode() for name in (*_PDF_ACTIVE_KEYS, *_PDF_ACTIVE_ACTIONS)}
    # Stream contents (pictures, fonts) are skipped: random bytes there would look like names.
    for match in _PDF_NAME.finditer(_PDF_STREAM.sub(b"stream endstream", data)):
        name = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        if name in wanted:
            return True
    return False


def _is_plain_destination(value: object) -> bool:
    """An /OpenAction that only opens a page ([page /Fit], or a GoTo action) is harmless."""
    if isinstance(value, ArrayObject):
        return True
    return (
        isinstance(value, DictionaryObject) and value.get("/S") == "/GoTo" and "/Next" not in value
    )


def _pdf_without_metadata(reader: PdfReader) -> bytes:
    writer = PdfWriter(clone_from=reader)
    writer.metadata = None  # no Info dictionary at all, not even pypdf's /Producer
    for holder in (writer.root_object, *writer.pages):
        for key in ("/Metadata", "/PieceInfo"):
            if key in holder:
                del holder[NameObject(key)]
    # The XMP stream object is still in the file until nothing pointing to it is dropped.
    writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# DOCX / XLSX -------------------------------------------------------------------------------


def _clean_office(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError) as exc:
        raise DocumentProblem("broken") from exc
    reason = _office_active(members)
    if reason:
        raise DocumentProblem(reason)
    if any(name.lower().startswith("_xmlsignatures/") for name in members):
        return data  # digitally signed: a rewritten properties part would void the signature
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as cleaned:
        for name, content in members.items():
            lower = name.lower()
            if lower in ("docprops/core.xml", "docprops/app.xml"):
                content = _drop_elements(content, _PERSONAL_PROPERTIES)
            cleaned.writestr(name, content)
    return out.getvalue()


def _office_active(members: dict[str, bytes]) -> str | None:
    for name, content in members.items():
        lower = name.lower()
        reason = _active_by_name(lower)
        if reason is None and lower == "[content_types].xml":
            reason = "macro" if _MACRO_CONTENT_TYPES.search(content) else None
        elif reason is None and lower.endswith(".rels"):
            reason = _active_relationship(content)
        elif reason is None and lower.endswith(".xml"):
            reason = _dde(lower, content)
        if reason:
            return reason
    return None


def _active_by_name(lower: str) -> str | None:
    if lower.endswith(("vbaproject.bin", "vbadata.xml")) or "/macrosheets/" in f"/{lower}":
        return "macro"
    if "/activex/" in f"/{lower}":
        return "embedded_object"
    if "/embeddings/" in f"/{lower}" and lower.endswith(".bin"):
        return "embedded_object"
    return None


def _active_relationship(content: bytes) -> str | None:
    try:
        root = etree.fromstring(content, _SAFE_XML)
    except etree.XMLSyntaxError:
        return None  # not read by Office either
    for rel in root.iter(f"{{{_REL_NS}}}Relationship"):
        rel_type = (rel.get("Type") or "").rsplit("/", 1)[-1]
        if rel_type in _ACTIVE_REL_TYPES:
            return _ACTIVE_REL_TYPES[rel_type]
        external = (rel.get("TargetMode") or "").lower() == "external"
        if external and rel_type not in _EXTERNAL_ALLOWED and _remote(rel.get("Target") or ""):
            return "external"
    return None


def _remote(target: str) -> bool:
    """True unless the target is a path on the reader's own disk. Word records the template a
    document was made from as an external C:\\... path: that is everyday, not an attack; a
    web address or a \\\\server share (which also leaks the reader's Windows login) is."""
    return not _LOCAL_PATH.match(target.strip())


def _dde(lower: str, content: bytes) -> str | None:
    """DDE fields in Word text, DDE links and formulas in Excel: they start programs."""
    if lower.startswith("word/"):
        fields = b"".join(a or b for a, b in _WORD_FIELD.findall(content))
        if _DDE_FIELD.search(fields.decode("utf-8", "replace")):
            return "dde"
    elif lower.startswith("xl/") and (
        b"<ddeLink" in content or b"<oleLink" in content or _DDE_FORMULA.search(content)
    ):
        return "dde"
    return None


def _drop_elements(content: bytes, drop: set[tuple[str, str]]) -> bytes:
    """The properties part without the elements that name people; an unreadable part is
    replaced by an empty one of the same kind rather than kept."""
    try:
        root = etree.fromstring(content, _SAFE_XML)
    except etree.XMLSyntaxError:
        return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties/>'
    for element in list(root):
        qname = etree.QName(element)
        if (qname.namespace, qname.localname) in drop:
            root.remove(element)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))
