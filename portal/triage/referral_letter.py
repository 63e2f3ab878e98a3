"""The printed referral letter (转办函): what it says, with no Flask (pure).

By default the letter carries the opinion but not its submitter: the referral passes the
matter, not the person (PIPL: the least personal data needed). Phone numbers, ID numbers and
email addresses the citizen wrote into the text itself are masked as well. Only when the
receiving body must contact the submitter directly, and the submitter left contact details
and agreed to their use (not anonymous), may staff print them, with a reason, audited.
"""

from __future__ import annotations

import re

# An ID card number (18 digits, the last may be X), mobile numbers, landlines with an area
# code, email addresses: each kept only at its ends so staff can still tell them apart.
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[-\s]?\d{3,4}(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_contacts_in_text(text: str) -> str:
    """The text with ID numbers, phone numbers and email addresses partly masked."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def paragraphs(text: str) -> list[str]:
    """Non-empty lines of the opinion, each a paragraph of the letter."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def may_pass_contact(*, anonymous: bool, consented: bool, has_contact: bool) -> bool:
    """Contact details may go with the referral only when the submitter left some, did not ask
    to stay anonymous and agreed to their use for handling the opinion."""
    return has_contact and consented and not anonymous
