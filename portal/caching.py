"""The one way to keep per-notice data in process memory: ``NoticeCache``.

Notice pages, the feedback form's facts, the finding ids a submission may name and the finding
router are all derived from one notice version and read far more often than they change. Each
application owns its caches (the tests run many apps in one process, and notice ids repeat
across them), so they live in ``app.extensions``; keys carry whatever makes an entry current
(usually the notice id and version), so a new version is simply a new key. Entries remember when
they were stored, for callers that also want a time-to-live. Bounded and thread-safe: gunicorn
may run threads, and old versions pile up only while editors work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Flask, current_app

V = TypeVar("V")
EXTENSION = "portal.caches"


@dataclass
class Entry(Generic[V]):
    value: V
    stored_at: float  # time.monotonic()

    def age(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.stored_at


class NoticeCache(Generic[V]):
    """A bounded, thread-safe map from a key to a value with the moment it was stored."""

    def __init__(self, name: str, max_entries: int = 256) -> None:
        self.name = name
        self.max_entries = max_entries
        self._entries: dict[Hashable, Entry[V]] = {}
        self._lock = threading.Lock()

    def entry(self, key: Hashable) -> Entry[V] | None:
        return self._entries.get(key)  # a dict read is atomic; writers hold the lock

    def get(self, key: Hashable, max_age: float | None = None) -> V | None:
        """The value, or None when absent or (with max_age) older than max_age seconds."""
        found = self._entries.get(key)
        if found is None or (max_age is not None and found.age() >= max_age):
            return None
        return found.value

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.max_entries:
                self._entries.clear()  # simplest bound: every key is cheap to rebuild
            self._entries[key] = Entry(value, time.monotonic())
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V], max_age: float | None = None) -> V:
        """The cached value, made (outside the lock: making may query) when absent or, with
        max_age, older than max_age seconds. A max_age of 0 or less caches nothing."""
        if max_age is not None and max_age <= 0:
            return make()
        found = self.get(key, max_age)
        if found is not None:
            return found
        return self.put(key, make())

    def drop(self, keep: Callable[[Hashable], bool]) -> None:
        """Forget every entry whose key ``keep`` refuses (e.g. older versions of one notice)."""
        with self._lock:
            for key in [k for k in self._entries if not keep(k)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_registry_lock = threading.Lock()


def notice_cache(name: str, app: Flask | None = None, max_entries: int = 256) -> NoticeCache[Any]:
    """The app's cache called ``name`` (default: the current app's), made on first use."""
    target = app if app is not None else current_app
    caches: dict[str, NoticeCache[Any]] = target.extensions.setdefault(EXTENSION, {})
    found = caches.get(name)
    if found is None:
        with _registry_lock:
            found = caches.setdefault(name, NoticeCache(name, max_entries))
    return found


def clear_all(app: Flask | None = None) -> None:
    """Empty every cache of the app (tests, and after bulk changes made outside the app)."""
    target = app if app is not None else current_app
    for cache in target.extensions.get(EXTENSION, {}).values():
        cache.clear()
