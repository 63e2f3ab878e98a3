"""Bounded fuzzing of the parsers that read outside input: the notice parser (editors paste
anything, upload any file, give any line any role) and the mail parser (anyone can send
anything). None may crash with an unexpected exception or hang; real inputs, damaged at random,
are the most productive seeds.

Budget: 600 examples each for text and mail, 150 for each uploaded format and for roles
(under 30 s in all here), well under the 60 s allowed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.intake.mail.parse import ParsedMail, parse_message
from portal.notices.parse import (
    ROLES,
    NoticeFormatError,
    NoticeParseError,
    ParsedNotice,
    extract_text,
    parse_notice,
)

pytestmark = [pytest.mark.faults]

DATA = Path(__file__).resolve().parents[1] / "data"
SEED_NOTICE = Path(__file__).resolve().parents[3] / "shared" / "notices"
NOTICES = sorted((DATA / "notices").glob("*.txt")) + sorted(SEED_NOTICE.glob("*.txt"))
MAILS = sorted((DATA / "mail").glob("*.eml"))
SLOW = 5.0  # seconds: any single parse slower than this is a hang (regex backtracking, loops)
FUZZ = settings(
    max_examples=600,
    deadline=None,  # timed explicitly below: shared CPUs make hypothesis deadlines flaky
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)
NOTICE_BITS = [
    "一、", "二、", "（一）", "(二)", "1.", "２．", "针对“", "”问题", "关于“", "的问题",
    "整改情况：", "一是", "二是", "（1）", "（已完成整改）", "联系电话：", "0769-12345678",
    "电子邮箱：", "a@b.cn", "通信地址：", "邮政编码：", "523000", "2024年2月2日", "\n", "\r\n",
    "\u3000", "\t", "\x00", "\u200b", "\ufeff", "。", "；",
]  # fmt: skip


def _texts(paths: list[Path]) -> list[str]:
    return [p.read_text(encoding="utf-8", errors="replace") for p in paths]


def _timed_parse_notice(text: str) -> None:
    started = time.monotonic()
    try:
        parsed = parse_notice(text)
    except NoticeParseError as exc:
        assert exc.line >= 1 and exc.message, "an error must say where and why"
    else:
        assert isinstance(parsed, ParsedNotice)
        numbers = [f.number for c in parsed.categories for f in c.findings]
        assert numbers and all(isinstance(n, int) for n in numbers)
    assert time.monotonic() - started < SLOW


@st.composite
def damaged_notice(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(_texts(NOTICES))).splitlines()
    for _ in range(draw(st.integers(0, 8))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "insert", "cut", "swap"]))
        if action == "drop":
            del lines[at]
        elif action == "dup":
            lines.insert(at, lines[at])
        elif action == "insert":
            noise = draw(st.lists(st.sampled_from(NOTICE_BITS), max_size=6))
            lines.insert(at, "".join(noise) + draw(st.text(max_size=20)))
        elif action == "cut":
            line = lines[at]
            lines[at] = line[: draw(st.integers(0, len(line)))]
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@FUZZ
@given(damaged_notice())
def test_notice_parser_survives_damaged_notices(text: str) -> None:
    _timed_parse_notice(text)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(NOTICE_BITS), st.text(max_size=30)), max_size=60))
def test_notice_parser_survives_notice_shaped_noise(parts: list[str]) -> None:
    _timed_parse_notice("".join(parts))


def test_notice_parser_on_a_huge_line() -> None:
    _timed_parse_notice("1.针对“" + "问" * 200_000 + "”问题\n" + "（" * 50_000)


@settings(FUZZ, max_examples=150)
@given(
    text=st.sampled_from(_texts(NOTICES)),
    roles=st.dictionaries(st.integers(1, 60), st.sampled_from(ROLES), max_size=20),
)
def test_notice_parser_survives_any_line_roles(text: str, roles: dict[int, str]) -> None:
    started = time.monotonic()
    try:
        parsed = parse_notice(text, roles=roles)
    except NoticeParseError as exc:
        assert exc.line >= 1 and exc.message
    else:
        assert all(role in ROLES for _, role, _ in parsed.line_roles)
    assert time.monotonic() - started < SLOW


def _upload_seeds() -> list[tuple[str, bytes]]:
    """The first real notice as each format an editor uploads (made here, as the tests do)."""
    import io

    import docx

    text = _texts(NOTICES)[0]
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    page = (
        "<html><head><meta charset='utf-8'></head><body><div id='zoom'>"
        + "".join(f"<p>{line}</p>" for line in text.splitlines())
        + "</div><div class='footer'>版权所有</div></body></html>"
    )
    seeds = [("n.docx", buffer.getvalue()), ("n.html", page.encode())]
    try:
        from portal.printing import render_pdf

        seeds.append(("n.pdf", render_pdf(page, [])))
    except (ImportError, OSError):  # WeasyPrint's Pango libraries missing: no PDF seed
        pass
    return seeds


UPLOADS = _upload_seeds()


@st.composite
def damaged_upload(draw: st.DrawFn) -> tuple[str, bytes]:
    name, raw = draw(st.sampled_from(UPLOADS))
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "delete", "insert"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 512))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return name, bytes(data)


@settings(FUZZ, max_examples=150)
@given(upload=damaged_upload())
def test_uploads_damaged_at_random_give_text_or_a_reason(upload: tuple[str, bytes]) -> None:
    name, data = upload
    started = time.monotonic()
    try:
        text = extract_text(data, name)
    except NoticeFormatError as exc:
        assert str(exc)
    else:
        assert isinstance(text, str)
        _timed_parse_notice(text)
    assert time.monotonic() - started < SLOW


@settings(FUZZ, max_examples=150)
@given(
    data=st.binary(max_size=3000), name=st.sampled_from(["a.txt", "a.html", "a.docx", "a.pdf", ""])
)
def test_arbitrary_bytes_under_any_name_give_text_or_a_reason(data: bytes, name: str) -> None:
    try:
        assert isinstance(extract_text(data, name), str)
    except NoticeFormatError as exc:
        assert str(exc)


def _timed_parse_mail(raw: bytes) -> None:
    started = time.monotonic()
    mail = parse_message(raw)  # contract: never raises
    assert isinstance(mail, ParsedMail)
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)
    assert mail.dedupe_key, "every message needs a dedupe key, even a broken one"
    assert time.monotonic() - started < SLOW


@st.composite
def damaged_mail(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([p.read_bytes() for p in MAILS])))
    for _ in range(draw(st.integers(1, 10))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete", "dup-header"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [b"\r\n", b"=?gb2312?B?", b"?=", b"--", b"boundary=\"x\"", b"\x00", b"=\r\n",
                     b"Content-Type: multipart/mixed; boundary=b\r\n", b"charset=big5",
                     b"Content-Transfer-Encoding: base64\r\n"]
                )
            )  # fmt: skip
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            end = data.find(b"\n", at)
            data[at:at] = data[at : end + 1 if end >= 0 else len(data)]
    return bytes(data)


@FUZZ
@given(damaged_mail())
def test_mail_parser_survives_damaged_mail(raw: bytes) -> None:
    _timed_parse_mail(raw)


@FUZZ
@given(st.binary(max_size=4000))
def test_mail_parser_survives_arbitrary_bytes(raw: bytes) -> None:
    _timed_parse_mail(raw)


def test_mail_parser_on_deep_nesting_and_many_parts() -> None:
    nested = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(300)
    )
    many = b'Content-Type: multipart/mixed; boundary="z"\r\n\r\n' + b"--z\r\n\r\nx\r\n" * 5000
    for raw in (b"Subject: deep\r\n" + nested, b"Subject: many\r\n" + many):
        _timed_parse_mail(raw)
