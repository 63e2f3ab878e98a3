"""Field limits of a submission, one set for every channel: the door enforces them, and the
web form, the staff form and the bulk import state the same numbers to the people typing."""

from __future__ import annotations

import re

WEB_BODY_MIN = 10
WEB_BODY_MAX = 5000  # the public form: a citizen's opinion
OTHER_BODY_MAX = 100_000  # mail and transcribed letters can be long
SUBJECT_MAX = 300
NAME_MAX = 100
EMAIL_MAX = 254  # RFC 5321's path limit
ADDRESS_MAX = 300
POSTCODE_LENGTH = 6
# The staff form and the bulk import keep the postcode apart and join it in front ("523000 地址").
ADDRESS_WITHOUT_POSTCODE_MAX = ADDRESS_MAX - POSTCODE_LENGTH - 1
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-－]{4,22}[0-9]$")


def body_max(channel: str) -> int:
    return WEB_BODY_MAX if channel == "web" else OTHER_BODY_MAX
