"""Behaviour shared by every page: locale, security headers, error pages, /healthz."""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import quote

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    render_template,
    request,
)
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_accept_header

from portal import labels
from portal.extensions import db
from portal.workdays import to_local

bp = Blueprint("site", __name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
CSP_WITH_CAPTCHA = (
    "default-src 'self'; script-src 'self' https://js.hcaptcha.com https://*.hcaptcha.com; "
    "style-src 'self' https://*.hcaptcha.com; frame-src https://*.hcaptcha.com; "
    "connect-src 'self' https://*.hcaptcha.com; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)


LANG_COOKIE = "lang"  # the reader's choice (?lang= or the switch), remembered for a year
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
_LANG_VALUES = ("en", "zh", "zh_CN", "zh-CN")


def _known_lang(value: str | None) -> str | None:
    if value in _LANG_VALUES:
        return "en" if value == "en" else "zh"
    return None


def choose_lang(
    query_lang: str | None, accept_language: str | None, cookie_lang: str | None = None
) -> str:
    """'en' or 'zh': ?lang= first, then the remembered choice (cookie), then Accept-Language,
    Chinese by default."""
    chosen = _known_lang(query_lang) or _known_lang(cookie_lang)
    if chosen:
        return chosen
    if not accept_language:
        return "zh"
    accept = parse_accept_header(accept_language, LanguageAccept)
    return "en" if accept.best_match(["zh-CN", "zh", "en"], default="zh-CN") == "en" else "zh"


def request_lang() -> str:
    """The language of this request, computed once (cheap: cached pages key on it)."""
    lang = g.get("portal_lang")
    if lang is None:
        lang = choose_lang(
            request.args.get("lang"),
            request.headers.get("Accept-Language"),
            request.cookies.get(LANG_COOKIE),
        )
        g.portal_lang = lang
    return lang


@bp.after_app_request
def remember_lang(response: Response) -> Response:
    """?lang= (the language switch) sets the cookie, so the form, its errors, the receipt and
    /track stay in the language the reader chose."""
    chosen = _known_lang(request.args.get("lang"))
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
            httponly=True,
            samesite="Lax",
        )
    return response


def select_locale() -> str:
    # CLI commands and mail ingest translate too (SubmissionRejected messages): no request, so
    # they get the default language instead of a "working outside of request context" error.
    if not has_request_context():
        return "zh_Hans_CN"
    return "en" if request_lang() == "en" else "zh_Hans_CN"


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def html_lang() -> str:
    from flask_babel import get_locale

    return "en" if str(get_locale()).startswith("en") else "zh-CN"


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def static_headers(secure: bool, csp: str = CSP) -> list[tuple[str, str]]:
    """Headers every response carries (also used by the cached-page fast path)."""
    headers = [("Content-Security-Policy", csp), *SECURITY_HEADERS]
    if secure:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


@bp.after_app_request
def security_headers(response: Response) -> Response:
    # A small hook rather than Flask-Talisman: we need only fixed headers, one CSP switch for
    # the captcha page, and no HTTPS redirect (nginx terminates TLS). It runs on every response,
    # so it avoids werkzeug's parsed header views (response.vary) on the hot path.
    headers = response.headers
    present = {key.lower() for key, _ in headers.items()}
    for key, value in static_headers(
        current_app.config["SESSION_COOKIE_SECURE"], g.get("csp", CSP)
    ):
        if key.lower() not in present:
            headers[key] = value
    # The language comes from Accept-Language or the remembered choice (the lang cookie).
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = "Accept-Language, Cookie"
    else:
        lowered = vary.lower()
        if "accept-language" not in lowered:
            vary += ", Accept-Language"
        if "cookie" not in lowered:
            vary += ", Cookie"
        headers["Vary"] = vary
    return response


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not healthy"
        db.session.rollback()
        current_app.logger.warning("healthz: database unavailable: %s", exc)
        return {"status": "unavailable", "database": "down"}, 503
    return {"status": "ok", "database": "up"}, 200


ERROR_MESSAGES: dict[int, tuple[LazyString, LazyString | None]] = {
    400: (_l("请求无效"), _l("提交的内容无法处理，请返回重试。")),
    403: (_l("无权访问"), _l("您没有访问此页面的权限。")),
    404: (_l("页面不存在"), _l("您访问的页面不存在或已被移除。")),
    405: (_l("请求方式不允许"), _l("请通过页面上的按钮操作。")),
    410: (_l("内容已撤回"), _l("该内容已被撤回，不再公开。")),
    413: (_l("上传内容过大"), None),  # the limits are configurable: _upload_too_large()
    429: (_l("操作过于频繁"), _l("您的操作过于频繁，请稍后再试。")),
    500: (_l("系统错误"), _l("系统暂时出现问题，请稍后再试。")),
    503: (_l("服务暂不可用"), _l("系统繁忙或正在维护，您的内容尚未提交，请稍后重试。")),
}


def _megabytes(size: int) -> str:
    """10485760 -> "10", 1572864 -> "1.5" (MB as the upload hints state them)."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


def _upload_too_large() -> str:
    """The 413 message, with the limits this deployment enforces."""
    config = current_app.config
    total = config["UPLOAD_MAX_TOTAL_BYTES"]
    if config.get("MAX_CONTENT_LENGTH"):  # the request cap, form fields included
        total = min(total, config["MAX_CONTENT_LENGTH"])
    per_file = min(config["UPLOAD_MAX_FILE_BYTES"], total)
    return _(
        "上传的文件过大：每个文件不超过%(file_mb)sMB，合计不超过%(total_mb)sMB。请压缩或分次提交。",
        file_mb=_megabytes(per_file),
        total_mb=_megabytes(total),
    )


def upload_too_large_message() -> str:
    """What a citizen reads when the upload is over the limits (the form shows it too)."""
    return _upload_too_large()


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    title, default = ERROR_MESSAGES.get(code, ERROR_MESSAGES[500])
    if message is None:
        message = _upload_too_large() if code == 413 else str(default)
    return (
        render_template("errors/error.html", code=code, title=str(title), message=message),
        code,
    )


def _handle_http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        return exc
    code = exc.code or 500
    if code < 400:  # routing redirects are HTTPExceptions too
        return exc
    return render_error(code)


def _handle_csrf(exc: CSRFError) -> tuple[str, int]:
    g.csrf_refused = True  # portal.audit records the refusal (a 400 alone says too little)
    return render_error(400, _("页面已过期或来源无法验证，请刷新页面后重新提交。"))


def _handle_database_down(
    exc: OperationalError | InterfaceError,
) -> tuple[str, int, dict[str, str]]:
    # PostgreSQL restarting or unreachable: nothing was recorded (the transaction died with the
    # connection), so say so plainly and invite a retry instead of a generic 500 page.
    current_app.logger.warning("database unavailable: %s", exc)
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone; nothing to undo
        current_app.logger.debug("rollback after database error failed", exc_info=True)
    body, code = render_error(503)
    return body, code, {"Retry-After": "10"}


def _handle_storage_full(exc: OSError) -> tuple[str, int, dict[str, str]]:
    """Uploads disk full: the one door already removed its files and rolled back."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        raise exc
    current_app.logger.error("uploads storage full: %s", exc)
    db.session.rollback()
    message = _("服务器存储空间暂时不足，您的内容尚未提交，请稍后重试或通过电话、信件反映。")
    body, code = render_error(503, message)
    return body, code, {"Retry-After": "60"}


P = ParamSpec("P")
R = TypeVar("R")
# Sec-Fetch-Site values a browser sends for a request from another site (or a sibling one).
CROSS_SITE = frozenset({"cross-site", "same-site"})


def same_origin_only(view: Callable[P, R]) -> Callable[P, R]:
    """Refuse (403) a request a browser says another site started: for the few GET downloads
    that record an event. Clients that send no Sec-Fetch-Site (curl, old browsers) pass."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if request.headers.get("Sec-Fetch-Site", "").strip().lower() in CROSS_SITE:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def per_worker_limits_warning(storage_uri: str, workers: int) -> str | None:
    """The warning due when rate limits are counted in each worker's memory: with N workers a
    client gets N times the documented limits (and a restart forgets them)."""
    if workers > 1 and (storage_uri or "memory://").startswith("memory://"):
        return (
            f"rate limits are counted per worker: {workers} workers with RATELIMIT_STORAGE_URI "
            f"memory:// allow up to {workers}x the documented limits; set "
            "PORTAL_RATELIMIT_STORAGE_URI=redis://... (see README, Deploying)"
        )
    return None


def warn_if_limits_per_worker(app: Flask, workers: int) -> None:
    """Called once at start with the worker count: by gunicorn's post_worker_init hook
    (deploy/gunicorn.conf.py knows the real count), and by init_app from WEB_CONCURRENCY."""
    message = per_worker_limits_warning(app.config.get("RATELIMIT_STORAGE_URI", ""), workers)
    if message:
        app.logger.warning(message)


def _workers_from_env() -> int:
    """gunicorn's own default worker count (also what Heroku-style platforms set)."""
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    warn_if_limits_per_worker(app, _workers_from_env())
    app.register_error_handler(CSRFError, _handle_csrf)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(OperationalError, _handle_database_down)
    app.register_error_handler(InterfaceError, _handle_database_down)
    app.register_error_handler(OSError, _handle_storage_full)
    app.jinja_env.globals["html_lang"] = html_lang
    # Times and dates as people read them, in Asia/Shanghai, for every feature's templates.
    app.jinja_env.globals["datetime_text"] = datetime_text
    app.jinja_env.globals["date_text"] = date_text
    # One clock and one format for every time shown (labels.when / labels.day), and audit
    # actions in words.
    app.jinja_env.filters["when"] = labels.when
    app.jinja_env.filters["day"] = labels.day
    app.jinja_env.filters["action_label"] = labels.action_label


def datetime_text(moment: datetime) -> str:
    """A moment as the reader reads it, in Asia/Shanghai (2024年2月2日 14:05)."""
    local = to_local(moment)
    if _english():
        return f"{date_text(local.date())} {local:%H:%M}"
    return _(
        "%(year)s年%(month)s月%(day)s日%(time)s",
        year=local.year,
        month=local.month,
        day=local.day,
        time=f"{local:%H:%M}",
    )


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _english() -> bool:
    from flask_babel import get_locale

    return has_request_context() and str(get_locale()).startswith("en")


def date_text(day: date) -> str:
    """A day as the reader writes it: 2024年2月2日, or 2 Feb 2024 in English."""
    if _english():  # month names are not a catalogue string: the order and the name both differ
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return _("%(year)s年%(month)s月%(day)s日", year=day.year, month=day.month, day=day.day)


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._ -]", "_", text).strip(" ._-")


def content_disposition(filename: str) -> str:
    """attachment; an ASCII fallback plus RFC 5987 filename* for the real (Chinese) name.

    Clients that read only the fallback (curl -J, wget --content-disposition) save under it,
    so it keeps the extension and never comes out as a bare ".jpg" that Unix hides."""
    stem, ext = os.path.splitext(filename)
    ascii_ext = "." + _ascii(ext) if _ascii(ext) else ""
    ascii_name = (_ascii(stem) or "attachment") + ascii_ext
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download(data: bytes, mimetype: str, filename: str) -> Response:
    """A file for the browser to save (never to show inline) under its own, possibly Chinese,
    name."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response
