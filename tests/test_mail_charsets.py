"""Charset decoding of inbound mail: labels Chinese clients use, guessing, raw 8-bit headers."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.intake.mail.charsets import declared_charsets, decode, decode_header_text


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


# --- #16: judged by plausibility, the message's own charsets as hints ---------------------------


def test_raw_shift_jis_is_not_read_as_gb18030() -> None:
    # These bytes also decode cleanly as GB18030, into rare hanzi: 偍栤偄崌傢偣偺審…
    japanese = "お問い合わせの件について"
    assert decode_part(japanese.encode("shift_jis"), None) == (japanese, "cp932")


def test_iso_2022_jp_with_a_nec_circled_digit() -> None:
    data = b"\x1b$B" + "整改".encode("iso2022_jp")[3:-3] + b"\x2d\x21\x1b(B"
    assert decode_part(data, "iso-2022-jp")[0] == "整改①"
    assert decode_part(data, None)[0] == "整改①"  # escape sequences say what it is


def test_utf8_and_latin1_mixed_under_an_unknown_label() -> None:
    data = "Café: 关于整改".encode().replace("é".encode(), b"\xe9")
    problems: list[str] = []
    assert decode(data, "x-unknown", problems)[0] == "Café: 关于整改"
    assert "\ufffd" not in "".join(problems)


def test_declared_charsets_are_hints_for_raw_headers() -> None:
    raw = "整改についてのご意見".encode("shift_jis").decode("utf-8", "surrogateescape")
    assert decode_header_text(raw, [], ["shift_jis"]) == "整改についてのご意見"
    found = declared_charsets(b'Content-Type: text/plain; charset="Shift_JIS"\r\nX: =?gbk?B?x?=')
    assert found == ["shift_jis", "gbk"]


@given(st.text(st.characters(codec="shift_jis", min_codepoint=0x20), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_iso_2022_jp_text_reads_back(text: str) -> None:
    try:
        data = text.encode("iso2022_jp")
    except UnicodeEncodeError:
        return
    assert decode_part(data, "iso-2022-jp")[0] == text


@given(st.binary(max_size=300), st.lists(st.sampled_from(["shift_jis", "gbk", "latin-1", "x"])))
@settings(max_examples=200, deadline=None)
def test_decode_with_hints_never_raises(data: bytes, hints: list[str]) -> None:
    text, charset = decode(data, None, [], hints)
    assert isinstance(text, str) and charset
