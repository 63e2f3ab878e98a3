"""The one way to keep per-notice data in process memory: ``NoticeCache``.

Notice pages, the feedback form's facts, the finding ids a submission may name and the finding
router are all derived from one notice version and read far more often than they change. Each
application owns its caches (the tests run many apps in one process, and notice ids repeat
across them), so they live in ``app.extensions``; keys carry whatever makes an entry current
(usually the notice id and version), so a new version is simply a new key. Entries remember when
they were stored, for callers that also want a time-to-live. Bounded and thread-safe: gunicorn
may run threads, and old versions pile up only while editors work.

A page kept in a cache is served to every visitor, so it is rendered with ``render_shared``:
with an empty session and without base.html's session parts (flash messages), so nothing of the
visitor who happened to trigger the render (a staff member's message, a CSRF token) is stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Flask, current_app, render_template
from flask.globals import request_ctx
from flask.sessions import SecureCookieSession
from jinja2 import Template

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


def render_shared(template: str | Template, **context: Any) -> str:
    """Render a page that a cache will serve to every visitor.

    The template sees ``shared_page=True`` (base.html then prints no flash messages) and an
    empty session; the visitor's own session, flashes included, is put back afterwards, so
    their message still shows on their next own page."""
    ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
    # Flask keeps the opened session in _session (``session`` is a read-only property).
    own_session, own_flashes = ctx._session, ctx.flashes
    ctx._session, ctx.flashes = SecureCookieSession(), None
    try:
        return render_template(template, shared_page=True, **context)
    finally:
        ctx._session, ctx.flashes = own_session, own_flashes
