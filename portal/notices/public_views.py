"""Public notice pages: list, notice, JSON, Atom feed; rendered once per version.

A notice page is the same bytes for every reader until the notice changes, so each app keeps
the rendered page per (kind, slug, language) in its page_cache() and re-reads only the notice's
version number, at most once per NOTICE_CACHE_TTL seconds. While an entry is fresh,
CachedPageMiddleware answers in front of Flask (no session, limiter or hooks); when it is stale
the request goes through the Flask view, which checks the version and refreshes the entry. That
keeps a news-driven spike close to the cost of the framework itself (see bench/notice_page.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.http import parse_cookie, parse_date, parse_etags

from portal.caching import NoticeCache, notice_cache, render_shared
from portal.extensions import db, limiter
from portal.notices.feedback_counts import has_counter, office_feedback_counts
from portal.notices.history import finding_status, public_revisions
from portal.notices.listing import (
    group_notices,
    office_public_notices,
    public_notices,
    public_office,
)
from portal.notices.models import Category, Notice
from portal.notices.service import notice_json, published_notices
from portal.site import LANG_COOKIE, choose_lang, request_lang, static_headers
from portal.workdays import as_utc

bp = Blueprint("notices", __name__)

CACHE_CONTROL = "public, max-age=60"
# Four pages per notice (HTML and JSON, two languages): room for a city's worth of offices.
PAGE_CACHE_ENTRIES = 1024


@dataclass
class CachedPage:
    version: int
    etag: str
    last_modified: datetime
    body: bytes
    mimetype: str
    checked_at: float
    headers: dict[str, str]


def page_cache(app: Flask | None = None) -> NoticeCache[CachedPage]:
    """The app's rendered pages, keyed by (kind, slug, language)."""
    return notice_cache("notice_pages", app, max_entries=PAGE_CACHE_ENTRIES)


def feedback_url(slug: str, number: int | None = None) -> str:
    """Link to the feedback form, with the finding preselected when given."""
    if number is None:
        return url_for("intake.feedback", slug=slug)
    return url_for("intake.feedback", slug=slug, finding=number)


def _current_row(slug: str) -> Any:
    return db.session.execute(
        select(Notice.id, Notice.version, Notice.state, Notice.updated_at).where(
            Notice.slug == slug
        )
    ).one_or_none()


def _cached(kind: str, slug: str, render: Callable[[Notice], tuple[bytes, str]]) -> Response:
    """Serve a cached page for slug, re-rendering when the notice's version changed."""
    key = (kind, slug, request_lang())
    now = time.monotonic()
    pages = page_cache()
    stored = pages.entry(key)  # stored_at: when the page was rendered
    if (
        stored is not None
        and now - stored.value.checked_at < current_app.config["NOTICE_CACHE_TTL"]
    ):
        return _conditional_response(stored.value)
    row = _current_row(slug)
    if row is None or row.state == "draft":
        abort(404)
    if row.state == "withdrawn":
        return _withdrawn(slug)
    max_age = current_app.config["NOTICE_PAGE_MAX_AGE"]
    if stored is not None and stored.value.version == row.version and stored.age(now) < max_age:
        stored.value.checked_at = now
        return _conditional_response(stored.value)
    # Re-rendered when the notice changes, and at least every NOTICE_PAGE_MAX_AGE seconds for
    # the public statistics, which new submissions change without a version.
    notice = db.session.get(Notice, row.id)
    if notice is None:  # deleted since the row was read
        abort(404)
    body, mimetype = render(notice)
    modified = as_utc(row.updated_at)
    old = stored.value if stored is not None else None
    if old is not None and old.version == row.version and old.body != body:
        modified = datetime.now(UTC)  # the statistics moved: a new Last-Modified too
    # Checked when the row was read; stored (the max age's start) when rendering ended, so a
    # slow render does not eat into the max age.
    entry = pages.put(key, _entry(row.version, modified, body, mimetype, now))
    return _conditional_response(entry)


def _entry(
    version: int,
    last_modified: datetime,
    body: bytes,
    mimetype: str,
    checked_at: float,
) -> CachedPage:
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": format_datetime(last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }
    return CachedPage(version, etag, last_modified, body, mimetype, checked_at, headers)


def _conditional_response(entry: CachedPage) -> Response:
    if _not_modified(entry, request.environ):
        return Response(status=304, headers=entry.headers)
    return Response(entry.body, mimetype=entry.mimetype, headers=entry.headers)


def _withdrawn(slug: str) -> Response:
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    body = render_template("notices/withdrawn.html", notice=notice)
    return Response(body, status=410, mimetype="text/html")


def categories_of_section(notice: Notice) -> dict[int, list[Category]]:
    """Which categories each findings section shows. One findings section shows them all; in a
    notice whose top-level headings are themselves the categories (一、X方面 with the findings
    under it), each such section shows its own category, matched by title, so no finding is
    rendered twice."""
    sections = [s["number"] for s in notice.sections if s.get("kind") == "findings"]
    if not sections:
        return {}
    titled = {s["title"]: s["number"] for s in notice.sections if s.get("kind") == "findings"}
    shown: dict[int, list[Category]] = {number: [] for number in sections}
    for category in notice.categories:
        if len(sections) > 1 and category.title in titled:
            shown[titled[category.title]].append(category)
        else:
            shown[sections[0]].append(category)
    return shown


def _render_page(notice: Notice) -> tuple[bytes, str]:
    html = render_shared(  # cached for every visitor: nothing of this one's session
        "notices/show.html",
        notice=notice,
        findings_by_category={c.id: [f for f in c.findings if f.active] for c in notice.categories},
        findings_outside_sections=bool(notice.categories)
        and not any(s.get("kind") == "findings" for s in notice.sections),
        categories_of_section=categories_of_section(notice),
        feedback_url=feedback_url,
        revisions=public_revisions(notice),
        finding_status=finding_status,
    )
    return html.encode("utf-8"), "text/html"


def _render_json(notice: Notice) -> tuple[bytes, str]:
    body = json.dumps(notice_json(notice), ensure_ascii=False, separators=(",", ":"))
    return body.encode("utf-8"), "application/json"


@limiter.request_filter
def _public_reads_are_not_limited() -> bool:
    """Notice reads carry no rate limit; skipping the limiter's per-request bookkeeping keeps a
    news-driven spike cheap (nginx's micro-cache absorbs floods in production)."""
    return request.method in ("GET", "HEAD") and request.blueprint == "notices"


@bp.get("/")
def index() -> str:
    """Rounds newest first, under each the units with their notices and feedback counts."""
    groups = group_notices(public_notices())
    return render_template(
        "notices/index.html",
        groups=groups,
        has_rounds=any(g.round is not None for g in groups),
        counts=office_feedback_counts(),
        show_counts=has_counter(),
    )


@bp.get("/offices/<slug>")
def office(slug: str) -> str:
    """One unit: its name, contacts, published notices and feedback counts."""
    found = public_office(slug)
    if found is None:
        abort(404)
    return render_template(
        "notices/office.html",
        office=found,
        notices=office_public_notices(found),
        counts=office_feedback_counts(),
        show_counts=has_counter(),
    )


@bp.get("/notices/<slug>")
def show(slug: str) -> Response:
    return _cached("page", slug, _render_page)


@bp.get("/notices/<slug>.json")
def show_json(slug: str) -> Response:
    return _cached("json", slug, _render_json)


def _public_url(endpoint: str, **values: Any) -> str:
    """An absolute link from PUBLIC_BASE_URL, never from the request's Host header: a feed
    fetched (and cached by readers) under a forged Host must not point anyone elsewhere."""
    path = url_for(endpoint, **values)[len(request.script_root) :]
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


@bp.get("/notices.atom")
def feed() -> Response:
    notices = published_notices()
    updated = max((as_utc(n.updated_at) for n in notices), default=datetime.now(UTC))
    body = render_template(
        "notices/feed.atom", notices=notices, updated=updated, aware=as_utc, public_url=_public_url
    )
    return Response(body, mimetype="application/atom+xml")


CACHED_PATH = re.compile(r"^/notices/([^/]+?)(\.json)?$")


class CachedPageMiddleware:
    """WSGI fast path for fresh cached notice pages; everything else goes to Flask."""

    def __init__(
        self, wsgi_app: Any, pages: NoticeCache[CachedPage], ttl: float, secure: bool
    ) -> None:
        self.wsgi_app = wsgi_app
        self.pages = pages
        self.ttl = ttl
        self.common = [*static_headers(secure), ("Vary", "Accept-Language, Cookie")]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD")
        match = (
            CACHED_PATH.match(environ.get("PATH_INFO", "")) if method in ("GET", "HEAD") else None
        )
        if match and "lang=" in environ.get("QUERY_STRING", ""):
            match = None  # a language switch: Flask remembers the choice (site.remember_lang)
        if match:
            entry = self.pages.get(
                ("json" if match.group(2) else "page", match.group(1), _lang(environ))
            )
            if entry is not None and time.monotonic() - entry.checked_at < self.ttl:
                return self._serve(entry, environ, start_response, method == "HEAD")
        return self.wsgi_app(environ, start_response)

    def _serve(
        self, entry: CachedPage, environ: dict[str, Any], start_response: Any, head: bool
    ) -> list[bytes]:
        headers = [*entry.headers.items(), *self.common]
        if _not_modified(entry, environ):
            start_response("304 NOT MODIFIED", headers)
            return []
        headers.append(("Content-Type", f"{entry.mimetype}; charset=utf-8"))
        headers.append(("Content-Length", str(len(entry.body))))
        start_response("200 OK", headers)
        return [] if head else [entry.body]


def _lang(environ: dict[str, Any]) -> str:
    query = environ.get("QUERY_STRING")
    query_lang = parse_qs(query).get("lang", [None])[0] if query else None
    cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(LANG_COOKIE)
    return choose_lang(query_lang, environ.get("HTTP_ACCEPT_LANGUAGE"), cookie)


def _not_modified(entry: CachedPage, environ: dict[str, Any]) -> bool:
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return parse_etags(if_none_match).contains(entry.etag)
    since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return bool(since and entry.last_modified.replace(microsecond=0) <= since)
