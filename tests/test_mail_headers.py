"""Header fields of inbound mail: the receipt code a reply carries in its subject."""

from __future__ import annotations

import pytest

from portal.intake.mail.headers import find_receipt_code


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
