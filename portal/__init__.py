"""Rectification feedback portal: create_app() factory."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from portal.config import Defaults
from portal.extensions import babel, csrf, db, limiter, login_manager, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "PORTAL_INSTANCE_PATH"
    )
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_object(Defaults)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("PORTAL")
    else:
        app.config.from_mapping(test_config)

    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    _ensure_secret_key(app)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(
            Path(app.instance_path) / "portal.db"
        )
    if app.config.get("PREFERRED_URL_SCHEME") == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
    _keep_private(app)

    _init_extensions(app)
    _register_features(app)
    return app


def _keep_private(app: Flask) -> None:
    """The instance folder, the uploads and the SQLite file hold personal data and keys: the
    portal's user alone may read them (0700 folders, 0600 files). Created so, and tightened
    at start where an older release left them readable by others."""
    instance = Path(app.instance_path)
    uploads = Path(app.config.get("UPLOADS_PATH") or instance / "uploads")
    for folder in (instance, uploads):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _tighten(folder, 0o700)
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if url.get_backend_name() != "sqlite" or in_memory:
        return
    path = Path(database)
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite gives these the file's own mode
        _tighten(path.with_name(path.name + suffix), 0o600)


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(mode)
    except OSError as exc:  # not ours (a shared mount): say so rather than refuse to start
        logging.getLogger(__name__).warning("cannot restrict %s to %o: %s", path, mode, exc)


def _ensure_secret_key(app: Flask) -> None:
    """Read SECRET_KEY from the instance folder, generating it on first start."""
    if app.config.get("SECRET_KEY"):
        return
    key_file = Path(app.instance_path) / "secret_key"
    app.config["SECRET_KEY"] = write_once(key_file, secrets.token_hex(32)).strip()


def write_once(path: Path, content: str) -> str:
    """Create path with content (mode 0600) unless it exists; return what the file holds.

    Several workers may start at once: each writes a complete temp file and hard-links it into
    place, so a reader never sees a half-written file and exactly one content wins."""
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text()


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse order).
    app.teardown_appcontext(_release_session)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    from portal import site

    babel.init_app(app, locale_selector=site.select_locale, timezone_selector=site.select_timezone)


def _register_features(app: Flask) -> None:
    """Every feature, lowest layer first (the layers: README.md, tests/test_layers.py)."""
    from portal import audit, intake, ledger, notices, offices, outbox, site, staff, triage

    site.init_app(app)
    audit.init_app(app)
    outbox.init_app(app)
    offices.init_app(app)
    staff.init_app(app)
    notices.init_app(app)
    intake.init_app(app)
    triage.init_app(app)
    ledger.init_app(app)
    if app.debug or app.testing:  # never in a production deployment
        from portal import devtools

        devtools.init_app(app)


def _release_session(_exc: BaseException | None) -> None:
    """End the request's session without letting a dead connection turn into a 500.

    When PostgreSQL restarts after a request's last query, the rollback on teardown fails;
    the response is already made, so log it, drop the session and let the pool discard the
    connection instead of raising past Flask to the WSGI server."""
    try:
        db.session.remove()
    except Exception as exc:  # a driver error on rollback of a dead connection
        db.session.registry.clear()
        logging.getLogger(__name__).warning("session teardown failed: %s", exc)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL and a busy timeout let several gunicorn workers share one SQLite file."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
