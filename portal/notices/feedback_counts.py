"""Per-office feedback counts on the public pages: opinions received, opinions replied.

Submissions live in intake, a layer above notices; a higher layer registers the function that
counts them (``register_counter(app, counter)`` from its ``init_app``), so the public pages ask
without importing upwards, as intake asks triage for office guesses (intake/office_routing.py).

The counts are the same for every reader and change only as opinions arrive, so each worker
keeps them for NOTICE_PAGE_MAX_AGE seconds (the age the notice pages' statistics may reach too):
one grouped query per worker and minute, whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask, current_app

from portal.caching import notice_cache

EXTENSION = "portal.feedback_counter"
CACHE = "office_feedback_counts"


@dataclass(frozen=True)
class FeedbackCounts:
    received: int = 0
    replied: int = 0


# () -> {office id: counts}; offices without opinions may be left out.
Counter = Callable[[], Mapping[int, FeedbackCounts]]
NO_COUNTS: Mapping[int, FeedbackCounts] = {}


def register_counter(app: Flask, counter: Counter) -> None:
    app.extensions[EXTENSION] = counter


def has_counter() -> bool:
    return current_app.extensions.get(EXTENSION) is not None


def office_feedback_counts() -> Mapping[int, FeedbackCounts]:
    """Every office's counts, at most NOTICE_PAGE_MAX_AGE seconds old; empty without a counter."""
    counter: Counter | None = current_app.extensions.get(EXTENSION)
    if counter is None:
        return NO_COUNTS
    cache = notice_cache(CACHE, max_entries=4)
    max_age = float(current_app.config["NOTICE_PAGE_MAX_AGE"])
    return cache.get_or_make("all", lambda: dict(counter()), max_age=max_age)


def counts_for(office_id: int) -> FeedbackCounts:
    return office_feedback_counts().get(office_id, FeedbackCounts())
