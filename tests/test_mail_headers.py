"""Header fields of inbound mail: the receipt code a reply carries in its subject, senders,
broken header blocks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.intake.mail.headers import (
    HeaderRepair,
    addresses,
    find_receipt_code,
    repair_header_block,
)


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        ("Re: [#ABCDE-FGHJK] 您的意见已收到", "ABCDEFGHJK"),
        ("回复：［＃abcde－fghjk］您的意见已收到", "ABCDEFGHJK"),
        ("答复 [# 0oIlA-BCDEF ]", "0011ABCDEF"),
        ("[#ABCDEFGHJK]", "ABCDEFGHJK"),
        ("no code here", None),
        ("[#ABCDE-FGHJU]", None),  # U is not Crockford
        ("[#ABCD-FGHJK]", None),
        ("ABCDE-FGHJK without brackets", None),
    ],
)
def test_find_receipt_code(subject: str, code: str | None) -> None:
    assert find_receipt_code(subject) == code


# --- #16: senders and broken header blocks -----------------------------------------------------


def test_first_valid_address_wins_over_junk() -> None:
    assert addresses(["unknown", "=?utf-8?B?5p2O5Zub?= <LiSi@163.com>"], []) == [
        ("李四", "lisi@163.com")
    ]
    assert addresses(["=?utf-8?Q?Wang,_Xiaoming?= <wxm@126.com>"], []) == [
        ("Wang, Xiaoming", "wxm@126.com")
    ]
    assert addresses(["张三, 东城居民 <zs@sina.com>"], []) == [("张三, 东城居民", "zs@sina.com")]


def test_broken_header_blocks_are_repaired_or_named() -> None:
    folded = b"From: a@b.cn\r\nSubject: one\r\ntwo\r\nDate: x\r\n\r\nbody\r\n"
    fixed, repair = repair_header_block(folded)
    assert fixed == b"From: a@b.cn\r\nSubject: one\r\n two\r\nDate: x\r\n\r\nbody\r\n"
    assert repair.note and "1 unindented" in repair.note
    junk = b"garbage line\r\nFrom: a@b.cn\r\n\r\nbody\r\n"
    assert repair_header_block(junk)[0] == b"From: a@b.cn\r\n\r\nbody\r\n"
    nothing = b"just some text\r\nand more\r\n"
    assert repair_header_block(nothing)[1].unreadable == (
        "broken header block: no From, To, Subject or Date"
    )


_FIELD_NAMES = st.sampled_from(["From", "To", "Subject", "Date", "X-Mailer", "Message-ID"])
_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@given(st.lists(st.tuples(_FIELD_NAMES, _VALUES), min_size=1, max_size=8), _VALUES)
@settings(max_examples=200, deadline=None)
def test_well_formed_header_blocks_are_left_alone(fields: list[tuple[str, str]], body: str) -> None:
    raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in fields) + b"\r\n" + body.encode()
    assert repair_header_block(raw) == (raw, HeaderRepair())


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_repair_never_raises(raw: bytes) -> None:
    fixed, repair = repair_header_block(raw)
    assert isinstance(fixed, bytes)
    assert repair.note is None or repair.unreadable is None
