"""Letters, calls, visits and the suggestion box: the rules staff intake applies (pure, no Flask).

The postmark rule (信件以邮戳日期为准): the feedback window is [opens, closes) in UTC, read in
Asia/Shanghai. A letter is on time when its postmark date is one of the window's local days,
however late it arrives; anything else counts by the moment it was received.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from portal.workdays import SHANGHAI, as_utc, local_date

STAFF_CHANNELS = ("letter", "phone", "visit", "box")
# A date-only receipt is placed at the start of office hours: on the closing day of a window
# that shuts in the afternoon, the citizen gets the benefit of the doubt.
OFFICE_OPENS = time(9, 0)
DURATION_MAX = 24 * 60  # minutes of one call

# The form fields only one channel records; every other field (contact, text, findings, scans)
# is common. The form shows only the chosen channel's; the server ignores the others' values.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "letter": ("postmarked_on", "letter_dated_on"),
    "phone": ("called_at", "duration_min", "line"),
    "visit": ("received_by",),
    "box": (),
}
ALL_CHANNEL_FIELDS = frozenset(name for names in CHANNEL_FIELDS.values() for name in names)


def ignored_fields(channel: str | None) -> frozenset[str]:
    """Channel fields that do not belong to ``channel``: their values are never recorded."""
    return ALL_CHANNEL_FIELDS - set(CHANNEL_FIELDS.get(channel or "", ()))


def needs_received_on(channel: str | None, has_call_time: bool) -> bool:
    """A call logged with its time needs no separate date (the time says which day);
    everything else is dated by the day it was received (the box: the day it was opened)."""
    return not (channel == "phone" and has_call_time)


# --- the postmark rule -------------------------------------------------------------------------


def first_day(window_opens: datetime) -> date:
    """The first Asia/Shanghai day on which the window is open."""
    return local_date(window_opens)


def last_day(window_closes: datetime) -> date:
    """The last Asia/Shanghai day on which the window is open (it closes *at* window_closes)."""
    return local_date(as_utc(window_closes) - timedelta(microseconds=1))


def is_on_time(
    window_opens: datetime | None,
    window_closes: datetime | None,
    received_at: datetime,
    postmarked_on: date | None = None,
) -> bool:
    """True when the submission falls inside the feedback window (an open end never limits).

    With a postmark, only its local date counts: postmarked on the last day and delivered a
    week later is on time; postmarked the day after is not.
    """
    if postmarked_on is not None:
        if window_opens is not None and postmarked_on < first_day(window_opens):
            return False
        return window_closes is None or postmarked_on <= last_day(window_closes)
    moment = as_utc(received_at)
    if window_opens is not None and moment < as_utc(window_opens):
        return False
    return window_closes is None or moment < as_utc(window_closes)


def is_late(
    window_closes: datetime | None, received_at: datetime, postmarked_on: date | None = None
) -> bool:
    """After the window (the ``late`` flag); early letters are not late, merely early."""
    return not is_on_time(None, window_closes, received_at, postmarked_on)


def received_moment(received_on: date, now: datetime | None = None) -> datetime:
    """The UTC instant recorded for something received on a local date without a time.

    Today means now; an earlier day means the start of that day's office hours.
    """
    now = as_utc(now or datetime.now(UTC))
    if received_on >= local_date(now):
        return now
    return datetime.combine(received_on, OFFICE_OPENS, tzinfo=SHANGHAI).astimezone(UTC)


# --- addresses and dates as letters write them -------------------------------------------------

_POSTCODE_FIRST = re.compile(r"^\s*(\d{6})\s+(.+)$", re.S)


def join_address(postcode: str | None, address: str | None) -> str | None:
    """One stored (encrypted) string: "523000 东莞市…", the postcode first as on an envelope."""
    address = (address or "").strip()
    if not address:
        return None
    postcode = (postcode or "").strip()
    return f"{postcode} {address}" if postcode else address


def split_address(stored: str | None) -> tuple[str | None, str]:
    """(postcode, address) from a stored address; the postcode only when it leads the text."""
    match = _POSTCODE_FIRST.match(stored or "")
    if match:
        return match.group(1), match.group(2).strip()
    return None, (stored or "").strip()


def chinese_date(day: date) -> str:
    """2024年2月2日 — the form used in letters (no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"
