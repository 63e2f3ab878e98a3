"""Charset decoding of inbound mail: labels Chinese clients use, guessing, raw 8-bit headers."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.intake.mail.charsets import decode, decode_header_text


def decode_part(data: bytes, label: str | None) -> tuple[str, str]:
    return decode(data, label, [])


@pytest.mark.parametrize("label", ["gb2312", "GBK", "x-gbk", "cp936", "gb_2312-80", "euc-cn"])
def test_gb_labels_decode_gb18030_only_characters(label: str) -> None:
    text, _ = decode_part("朱镕基和刘䶮".encode("gb18030"), label)
    assert text == "朱镕基和刘䶮"


@pytest.mark.parametrize("label", ["utf8", "UTF_8", "unicode-1-1-utf-8", '"utf-8 "', " utf-8"])
def test_misspelled_utf8_labels(label: str) -> None:
    assert decode_part("整改".encode(), label) == ("整改", "utf-8")


def test_missing_label_guesses_in_order() -> None:
    assert decode_part("意见".encode(), None)[0] == "意见"
    assert decode_part("意见反馈".encode("gbk"), None)[0] == "意见反馈"
    taiwan = "臺灣同胞對整改措施的意見"
    assert decode_part(taiwan.encode("big5"), None)[0] == taiwan


def test_explicit_label_is_not_overridden() -> None:
    # These GBK bytes are also valid Big5; the label decides.
    data = "中文".encode("gbk")
    assert decode_part(data, "gbk")[0] == "中文"
    assert decode_part("Café".encode("latin-1"), "iso-8859-1")[0] == "Café"
    assert decode_part("臺灣".encode("big5"), "big5")[0] == "臺灣"


def test_boms_are_removed() -> None:
    assert decode_part(b"\xef\xbb\xbf" + "正文".encode(), None)[0] == "正文"
    assert decode_part(b"\xff\xfe" + "正文".encode("utf-16-le"), None)[0] == "正文"


def test_non_text_codec_labels_are_refused() -> None:
    text, charset = decode_part(b"aGVsbG8=", "base64")
    assert text == "aGVsbG8=" and charset == "utf-8"


@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "gb2312", "big5", "bogus", ""]))
@settings(max_examples=200, deadline=None)
def test_decode_never_raises(data: bytes, label: str | None) -> None:
    text, charset = decode_part(data, label)
    assert isinstance(text, str) and charset


def test_wrong_label_is_noted_and_the_bytes_decide() -> None:
    problems: list[str] = []
    text, charset = decode("整改意见".encode(), "us-ascii", problems)
    assert (text, charset) == ("整改意见", "utf-8")
    assert problems == ["charset 'us-ascii' but the bytes are UTF-8"]


def test_adjacent_encoded_words_are_joined_before_decoding() -> None:
    # One GB18030 character split across two base64 words: decoded apart it would be lost.
    data = "镕城".encode("gb18030")
    words = [base64.b64encode(data[:1]).decode(), base64.b64encode(data[1:]).decode()]
    value = f"=?gb2312?B?{words[0]}?= =?gb2312?B?{words[1]}?="
    assert decode_header_text(value) == "镕城"


def test_raw_8bit_header_is_guessed() -> None:
    raw = "关于整改".encode("gbk").decode("utf-8", "surrogateescape")
    assert decode_header_text(raw) == "关于整改"
