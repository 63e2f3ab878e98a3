"""Inbound mail parsing against a corpus of raw messages from real-world clients."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.intake.mail.headers import find_receipt_code
from portal.intake.mail.parse import FORWARD_MARKER, ParsedMail, parse_message

CORPUS_DIR = Path(__file__).parent / "data" / "mail"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS_DIR / "expected.json").read_text(encoding="utf-8")
)
CORPUS = {name: (CORPUS_DIR / name).read_bytes() for name in sorted(EXPECTED)}


def _corpus(stem: str) -> bytes:
    """A corpus message by its name without the number (numbers shift when cases are added)."""
    (name,) = [n for n in CORPUS if n[3:] == f"{stem}.eml"]
    return CORPUS[name]


def test_corpus_is_complete() -> None:
    assert len(CORPUS) >= 40
    assert sorted(p.name for p in CORPUS_DIR.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message(name: str) -> None:
    want = EXPECTED[name]
    mail = parse_message(CORPUS[name])
    assert mail.sender == want["sender"]
    if want["sender_name"] is not None:
        assert mail.sender_name == want["sender_name"]
    assert mail.subject == want["subject"]
    for words in want["text_contains"]:
        assert words in mail.text
    for words in want.get("text_absent", []):
        assert words not in mail.text
    assert [a.filename for a in mail.attachments] == want["attachments"]
    if "inline" in want:
        assert [a.filename for a in mail.attachments if a.inline] == want["inline"]
    if want["auto_reason"] is None:
        assert mail.auto_reason is None
    else:
        assert mail.auto_reason is not None
        assert mail.auto_reason.startswith(want["auto_reason"])
    assert (mail.quarantine_reason is not None) == want["quarantine"]
    if "quarantine_reason" in want:
        assert mail.quarantine_reason == want["quarantine_reason"]
    assert mail.bounced_message_ids == want["bounced_ids"]
    for words in want.get("html_contains", []):
        assert mail.html is not None and words in mail.html
    for words in want.get("html_absent", []):
        assert mail.html is None or words not in mail.html.lower()
    if want.get("has_problems"):
        assert mail.problems
    if "message_id" in want:
        assert mail.message_id == want["message_id"]
    if "receipt_code" in want:
        assert find_receipt_code(mail.subject) == want["receipt_code"]
    if "in_reply_to" in want:
        assert mail.in_reply_to == want["in_reply_to"]
    if "references" in want:
        assert mail.references == want["references"]
    if "date" in want:
        assert mail.date == want["date"]
    assert mail.signed == want.get("signed")
    assert "\ufffd" not in mail.subject
    if not want["quarantine"]:
        assert "\ufffd" not in mail.text


def test_date_is_aware_utc() -> None:
    mail = parse_message(_corpus("qq_gbk_html_only"))
    assert mail.date is not None and mail.date.tzinfo is not None
    assert mail.date.utcoffset() is not None and mail.date.utcoffset().total_seconds() == 0
    assert (mail.date.hour, mail.date.minute) == (1, 30)  # 09:30 +0800
    assert mail.date.tzinfo == UTC


def test_html_only_mail_gets_text_and_clean_html() -> None:
    mail = parse_message(_corpus("qq_gbk_html_only"))
    assert mail.html is not None and "<div>" in mail.html
    assert "<" not in mail.text
    assert mail.text.splitlines()[0] == "领导您好："


def test_forwarded_section_follows_own_text() -> None:
    mail = parse_message(_corpus("forwarded_rfc822"))
    own, _, forwarded = mail.text.partition(FORWARD_MARKER)
    assert "请看下面转发的举报" in own
    assert "jia@qq.com" in forwarded and "某单位违规发放补贴" in forwarded


def test_inline_image_data_is_kept() -> None:
    mail = parse_message(_corpus("iphone_related_inline_jpeg"))
    (image,) = mail.attachments
    assert image.content_type == "image/jpeg" and image.inline
    assert image.data.startswith(b"\xff\xd8")


def test_dedupe_key_uses_message_id_or_content_hash() -> None:
    assert parse_message(_corpus("qq_gbk_html_only")).dedupe_key == "tencent_1A2B3C@qq.com"
    raw = _corpus("no_message_id")
    first, again = parse_message(raw), parse_message(raw)
    assert first.message_id is None
    assert first.dedupe_key.startswith("sha256:") and first.dedupe_key == again.dedupe_key
    changed = parse_message(raw.replace("没有".encode(), "有".encode()))
    assert changed.dedupe_key != first.dedupe_key


# --- charsets through the parser ----------------------------------------------------


def test_unknown_label_falls_back_and_notes_it() -> None:
    mail = parse_message(
        b"From: a@b.cn\r\nSubject: x\r\nContent-Type: text/plain; charset=klingon\r\n\r\n"
        + "中文正文".encode("gbk")
    )
    assert mail.text == "中文正文"
    assert any("klingon" in p for p in mail.problems)


# --- size guard ------------------------------------------------------------------------


def test_huge_message_is_quarantined_with_its_sender() -> None:
    raw = (
        b"From: big@qq.com\r\nSubject: big\r\nMessage-ID: <big@qq.com>\r\n"
        b"Content-Type: text/plain\r\n\r\n" + b"A" * (200 * 1024 * 1024)
    )
    mail = parse_message(raw)
    del raw
    assert mail.quarantine_reason == "too large"
    assert mail.sender == "big@qq.com" and mail.message_id == "big@qq.com"


def test_too_many_parts_respects_cap() -> None:
    raw = _corpus("seventy_attachments")
    assert parse_message(raw).quarantine_reason == "too many parts"
    assert parse_message(raw, max_parts=100).quarantine_reason is None


# --- robustness ------------------------------------------------------------------------


def _check_invariants(mail: ParsedMail) -> None:
    assert isinstance(mail, ParsedMail)
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)
    assert isinstance(mail.dedupe_key, str) and mail.dedupe_key
    if not mail.text.strip() and not mail.attachments:
        assert mail.quarantine_reason is not None
    if mail.date is not None:
        assert mail.date.tzinfo is not None
    # Nothing the database or a template would choke on.
    mail.text.encode("utf-8")
    mail.subject.encode("utf-8")


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    _check_invariants(parse_message(raw))


HOSTILE_HEADERS = [
    b'Content-Type: text/plain; charset="\x00\xff"',
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: ;;;;",
    b"Content-Disposition: attachment; filename*=x''%ZZ%",
    b"Content-Transfer-Encoding: base64",
    b"Content-Type: message/rfc822",
    b"Content-Type: multipart/report; report-type=",
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
    b"From: <<>>@,,",
    b"Subject: =?x?B?@@@?= =?utf-8?Q?=ZZ?=",
]


def _mutate(raw: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 4:  # hostile header values
        head, sep, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(HOSTILE_HEADERS))
        return b"\r\n".join(lines) + sep + body
    data = bytearray(raw)
    if kind == 0 and data:  # bit flips
        for _ in range(rng.randint(1, 20)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 1:  # truncation
        return bytes(data[: rng.randrange(len(data) + 1)])
    if kind == 2:  # header duplication
        head, sep, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        picked = [rng.choice(lines) for _ in range(rng.randint(1, 5))]
        return b"\r\n".join(lines + picked) + sep + body
    # splice random bytes somewhere
    i = rng.randrange(len(data) + 1)
    return bytes(data[:i]) + rng.randbytes(rng.randint(1, 40)) + bytes(data[i:])


@given(st.sampled_from(sorted(CORPUS)), st.integers(min_value=0, max_value=2**32))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_corpus_never_raises(name: str, seed: int) -> None:
    _check_invariants(parse_message(_mutate(CORPUS[name], random.Random(seed))))


def test_deep_nesting_does_not_raise() -> None:
    raw = b"From: a@b.cn\r\nSubject: deep\r\n"
    for i in range(200):
        raw += f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\nbottom\r\n"
    _check_invariants(parse_message(raw))


def test_hostile_html_mail_does_not_stall_the_queue() -> None:
    raw = (
        b"From: a@qq.com\r\nSubject: deep\r\nMessage-ID: <deep@qq.com>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n" + "<div>意见".encode() * 100_000
    )
    mail = parse_message(raw)
    assert "意见" in mail.text and mail.quarantine_reason is None
    assert mail.html is not None and "<div" not in mail.html


def test_a_twenty_megabyte_scan_arrives_whole() -> None:
    """A 20 MB scan attached as base64 (within the 30 MB cap); bench/mail_ingest.py times it."""
    payload = bytes(range(256)) * (20 * 1024 * 4)
    encoded = base64.encodebytes(payload)
    raw = (
        b'From: a@qq.com\r\nSubject: scan\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "扫描件见附件".encode()
        + b"\r\n--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="scan.pdf"\r\n\r\n' + encoded + b"\r\n--x--\r\n"
    )
    mail = parse_message(raw)
    assert mail.attachments[0].data == payload
