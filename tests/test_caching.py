"""NoticeCache: what every per-notice cache in the portal relies on."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask

from portal.caching import NoticeCache, clear_all, notice_cache


def test_a_new_version_is_a_new_key_and_old_versions_can_be_dropped() -> None:
    cache: NoticeCache[str] = NoticeCache("pages")
    cache.put((1, 1), "v1")
    cache.put((1, 2), "v2")
    cache.put((2, 1), "other notice")
    cache.drop(lambda key: not (key[0] == 1 and key != (1, 2)))
    assert cache.get((1, 1)) is None
    assert cache.get((1, 2)) == "v2"
    assert cache.get((2, 1)) == "other notice"


def test_max_age_makes_an_old_entry_absent(monkeypatch) -> None:
    cache: NoticeCache[int] = NoticeCache("facts")
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache.put("slug", 1)
    now[0] += 0.5
    assert cache.get("slug", max_age=1.0) == 1
    now[0] += 0.6
    assert cache.get("slug", max_age=1.0) is None
    assert cache.get("slug") == 1  # without max_age the entry is still there


def test_the_cache_stays_bounded() -> None:
    cache: NoticeCache[int] = NoticeCache("bounded", max_entries=10)
    for i in range(35):
        cache.put(i, i)
    assert len(cache) <= 10
    assert cache.get(34) == 34  # the newest entry always survives


def test_get_or_make_makes_once_per_key() -> None:
    cache: NoticeCache[list[int]] = NoticeCache("made")
    calls = []

    def make() -> list[int]:
        calls.append(1)
        return [1, 2, 3]

    assert cache.get_or_make("k", make) == [1, 2, 3]
    assert cache.get_or_make("k", make) == [1, 2, 3]
    assert len(calls) == 1


def test_get_or_make_remakes_an_old_entry_and_keeps_nothing_without_a_max_age(
    monkeypatch,
) -> None:
    cache: NoticeCache[int] = NoticeCache("counts")
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    made = iter(range(1, 100))
    assert cache.get_or_make("k", lambda: next(made), max_age=10) == 1
    now[0] = 5.0
    assert cache.get_or_make("k", lambda: next(made), max_age=10) == 1
    now[0] = 11.0
    assert cache.get_or_make("k", lambda: next(made), max_age=10) == 2
    assert cache.get_or_make("other", lambda: next(made), max_age=0) == 3
    assert cache.get("other") is None  # a max age of 0 means: never cached


def test_each_app_has_its_own_caches() -> None:
    first, second = Flask("first"), Flask("second")
    notice_cache("routers", first).put((1, 1), "router of app one")
    assert notice_cache("routers", second).get((1, 1)) is None
    assert notice_cache("routers", first).get((1, 1)) == "router of app one"
    clear_all(first)
    assert notice_cache("routers", first).get((1, 1)) is None


def test_parallel_writers_never_corrupt_it() -> None:
    cache: NoticeCache[int] = NoticeCache("threads", max_entries=50)

    def writer(offset: int) -> None:
        for i in range(2000):
            cache.put((offset, i % 80), i)
            cache.get((offset, (i * 7) % 80))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 50


# --- cached pages carry nothing of one visitor's session to another --------------------------

PLANTED_FLASH = "工作人员提示ZQX-已保存视图"


def _plant_flash(client: Any) -> None:
    """A staff action whose redirect was not followed leaves its message in the session."""
    with client.session_transaction() as session:
        session["_flashes"] = [("success", PLANTED_FLASH)]


def test_a_flash_in_one_session_never_reaches_another_visitor_of_a_cached_notice_page(
    app: Flask, published_notice: str
) -> None:
    staff = app.test_client()
    _plant_flash(staff)
    first = staff.get(f"/notices/{published_notice}")
    assert first.status_code == 200
    visitor = app.test_client().get(f"/notices/{published_notice}")
    assert visitor.status_code == 200
    assert PLANTED_FLASH not in visitor.get_data(as_text=True)
    assert PLANTED_FLASH not in first.get_data(as_text=True)  # the shared page never shows it
    # ...and the message is not lost: the staff member's next own page still shows it.
    with staff.session_transaction() as session:
        assert session.get("_flashes") == [("success", PLANTED_FLASH)]


def test_a_flash_never_reaches_another_visitor_of_the_cached_blank_feedback_form(
    app: Flask, published_notice: str
) -> None:
    url = f"/notices/{published_notice}/feedback"
    app.test_client().get(url)  # the blank form is cached now
    staff = app.test_client()
    _plant_flash(staff)
    own = staff.get(url).get_data(as_text=True)
    assert PLANTED_FLASH in own  # rendered for this visitor, not from or into the cache
    visitor = app.test_client().get(url).get_data(as_text=True)
    assert PLANTED_FLASH not in visitor


def test_render_shared_sees_an_empty_session(app: Flask) -> None:
    """Whatever a shared page's template reads from the session, it reads nothing."""
    from flask import render_template_string, session

    from portal.caching import render_shared

    with app.test_request_context("/"):
        session["_flashes"] = [("error", PLANTED_FLASH)]
        session["marker"] = "visitor-one"
        app.jinja_env.globals["session_marker"] = lambda: session.get("marker", "")
        html = render_shared(
            app.jinja_env.from_string("[{{ session_marker() }}]{{ get_flashed_messages() }}")
        )
        assert html == "[][]"
        assert session["marker"] == "visitor-one"  # the visitor's own session is back
        assert render_template_string("{{ get_flashed_messages()|length }}") == "1"
