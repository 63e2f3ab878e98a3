"""The notice's last parts: its contacts, and the counts its preamble announces."""

from __future__ import annotations

import re
import unicodedata

from portal.notices.parse.findings import DONE_STATUSES
from portal.notices.parse.patterns import (
    ADDRESS_CUT_RE,
    ADDRESS_RE,
    EMAIL_RE,
    LABELLED_PHONE_RE,
    PHONE_RE,
    POSTCODE_RE,
    Line,
    number,
)
from portal.notices.parse.structure import Category, Contacts, ParseWarning

_COUNT = r"([0-9０-９]{1,3}|[一二三四五六七八九十两]{1,3})"
_TOTAL_RES = (
    re.compile(rf"反馈(?:了|的)?(?:共)?{_COUNT}个?方面(?:的)?{_COUNT}(?:个|项|条)(?:具体)?问题"),
    re.compile(rf"反馈(?:了|的)?(?:问题|意见问题)(?:共)?{_COUNT}(?:个|项|条)"),
    re.compile(rf"反馈(?:了|的)?(?:共)?{_COUNT}(?:个|项|条)(?:具体)?问题"),
)
_DONE_RE = re.compile(
    rf"(?:已|已经)(?:完成整改|整改完成|全部完成整改|完成)(?:问题)?{_COUNT}(?:个|项|条)"
)


def _count(text: str) -> int:
    return number(unicodedata.normalize("NFKC", text))


def check_counts(
    preamble: list[Line], categories: list[Category], warnings: list[ParseWarning]
) -> None:
    """ "反馈问题6个，已完成整改4个" against what was read: a mismatch names both numbers."""
    findings = [finding for category in categories for finding in category.findings]
    for line in preamble:
        for pattern in _TOTAL_RES:
            match = pattern.search(line.text)
            if match is None:
                continue
            groups = match.groups()
            if len(groups) == 2:
                said_categories = _count(groups[0])
                if said_categories != len(categories):
                    warnings.append(
                        ParseWarning(
                            line.no,
                            f"第{line.no}行：序言称反馈问题涉及{said_categories}个方面，"
                            f"解析出{len(categories)}个类别",
                        )
                    )
            said = _count(groups[-1])
            if said != len(findings):
                warnings.append(
                    ParseWarning(
                        line.no,
                        f"第{line.no}行：序言称反馈问题{said}个，解析出{len(findings)}个问题",
                    )
                )
            break
        done = _DONE_RE.search(line.text)
        if done and any(finding.status for finding in findings):
            said_done = _count(done.group(1))
            marked = sum(1 for finding in findings if finding.status in DONE_STATUSES)
            if said_done != marked:
                warnings.append(
                    ParseWarning(
                        line.no,
                        f"第{line.no}行：序言称已完成整改{said_done}个，标注已完成的问题{marked}个",
                    )
                )


# --------------------------------------------------------------------------- contacts


def read_contacts(closing: str) -> Contacts:
    text = unicodedata.normalize("NFKC", closing)
    phone_match = PHONE_RE.search(text)
    phone = phone_match.group(0) if phone_match else None
    if phone is None:
        labelled = LABELLED_PHONE_RE.search(text)
        phone = labelled.group(1) if labelled else None
    email = EMAIL_RE.search(text)
    address = None
    address_match = ADDRESS_RE.search(text)
    if address_match:
        address = ADDRESS_CUT_RE.sub("", address_match.group(1)).strip(" ,，、") or None
    postcode = POSTCODE_RE.search(text)
    return Contacts(
        phone=phone,
        email=email.group(0) if email else None,
        address=address,
        postcode=postcode.group(1) if postcode else None,
    )
