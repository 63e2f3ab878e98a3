"""Public notice pages: list, notice, JSON, Atom feed; rendered once per version.

A notice page is the same bytes for every reader until the notice changes, so each worker keeps
the rendered page per (slug, language) and re-reads only the notice's version number, at most
once per NOTICE_CACHE_TTL seconds. That keeps a news-driven spike close to the cost of Flask
itself (see bench/notice_page.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from sqlalchemy import select
from werkzeug.routing import BuildError

from portal.extensions import db
from portal.notices.models import Notice
from portal.notices.service import notice_json, published_notices

bp = Blueprint("notices", __name__)

CACHE_CONTROL = "public, max-age=60"


@dataclass
class CachedPage:
    version: int
    etag: str
    last_modified: datetime
    body: bytes
    mimetype: str
    checked_at: float


_cache: dict[tuple[str, str, str], CachedPage] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def feedback_url(slug: str, number: int | None = None) -> str:
    """Link to the feedback form for a finding; the contact block until the form exists."""
    try:
        if number is None:
            return url_for("intake.feedback", slug=slug)
        return url_for("intake.feedback", slug=slug, finding=number)
    except BuildError:
        return url_for("notices.show", slug=slug, _anchor="contacts")


def _lang() -> str:
    return "en" if str(get_locale()).startswith("en") else "zh"


def _current_row(slug: str) -> Any:
    return db.session.execute(
        select(Notice.id, Notice.version, Notice.state, Notice.updated_at).where(
            Notice.slug == slug
        )
    ).one_or_none()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cached(kind: str, slug: str, render: Any) -> Response:
    """Serve a cached page for slug, re-rendering when the notice's version changed."""
    key = (kind, slug, _lang())
    now = time.monotonic()
    entry = _cache.get(key)
    ttl = current_app.config["NOTICE_CACHE_TTL"]
    if entry is None or now - entry.checked_at >= ttl:
        row = _current_row(slug)
        if row is None or row.state == "draft":
            abort(404)
        if row.state == "withdrawn":
            return _withdrawn(slug)
        if entry is None or entry.version != row.version:
            notice = db.session.get(Notice, row.id)
            body, mimetype = render(notice)
            etag = hashlib.sha256(body).hexdigest()[:32]
            entry = CachedPage(row.version, etag, _aware(row.updated_at), body, mimetype, now)
            with _cache_lock:
                _cache[key] = entry
        else:
            entry.checked_at = now
    return _conditional_response(entry)


def _conditional_response(entry: CachedPage) -> Response:
    headers = {
        "ETag": f'"{entry.etag}"',
        "Last-Modified": format_datetime(entry.last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }
    if_none_match = request.if_none_match
    if if_none_match and if_none_match.contains(entry.etag):
        return Response(status=304, headers=headers)
    since = request.if_modified_since
    if not if_none_match and since and entry.last_modified.replace(microsecond=0) <= since:
        return Response(status=304, headers=headers)
    return Response(entry.body, mimetype=entry.mimetype, headers=headers)


def _withdrawn(slug: str) -> Response:
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    body = render_template("notices/withdrawn.html", notice=notice)
    return Response(body, status=410, mimetype="text/html")


def _render_page(notice: Notice) -> tuple[bytes, str]:
    html = render_template(
        "notices/show.html",
        notice=notice,
        findings_by_category={c.id: [f for f in c.findings if f.active] for c in notice.categories},
        feedback_url=feedback_url,
    )
    return html.encode("utf-8"), "text/html"


def _render_json(notice: Notice) -> tuple[bytes, str]:
    body = json.dumps(notice_json(notice), ensure_ascii=False, separators=(",", ":"))
    return body.encode("utf-8"), "application/json"


@bp.get("/")
def index() -> str:
    return render_template("notices/index.html", notices=published_notices())


@bp.get("/notices/<slug>")
def show(slug: str) -> Response:
    return _cached("page", slug, _render_page)


@bp.get("/notices/<slug>.json")
def show_json(slug: str) -> Response:
    return _cached("json", slug, _render_json)


@bp.get("/notices.atom")
def feed() -> Response:
    notices = published_notices()
    updated = max((_aware(n.updated_at) for n in notices), default=datetime.now(UTC))
    body = render_template("notices/feed.atom", notices=notices, updated=updated, aware=_aware)
    return Response(body, mimetype="application/atom+xml")
