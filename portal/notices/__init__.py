"""Notices: parse, store and publish rectification notices."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.notices import models  # noqa: F401  (registers the tables)
    from portal.notices.cli import notices_cli
    from portal.notices.public_views import CachedPageMiddleware, bp, page_cache
    from portal.notices.views import bp as admin_bp

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    app.cli.add_command(notices_cli)
    if app.config["NOTICE_CACHE_TTL"] > 0:
        app.wsgi_app = CachedPageMiddleware(  # type: ignore[method-assign]
            app.wsgi_app,
            page_cache(app),
            app.config["NOTICE_CACHE_TTL"],
            app.config["SESSION_COOKIE_SECURE"],
        )
