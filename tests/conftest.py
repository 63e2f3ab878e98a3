"""Shared fixtures: app, client, runner, db, published notice, CSRF-aware form posting.

Every test that uses ``app`` runs once per configured database: SQLite always, PostgreSQL when
PORTAL_TEST_DATABASE_URL is set (.ci/run sets it). With CI=true an unreachable PostgreSQL fails
the run instead of being skipped. PORTAL_TEST_DATABASES=sqlite narrows a local run.

Feature fixtures (SMTP server, Dovecot, gunicorn, browser) live in tests/fixtures/*.py and are
loaded as plugins from here.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent
SEED_NOTICE = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"
CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")

# CI explores the same examples on every run (a seed per test), so a red run is reproducible and
# a green rehearsal predicts the real one; local runs keep exploring new random examples, which
# is where new counterexamples are found (then pinned with @example).
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if CI:
    hypothesis.settings.load_profile("ci")

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if not p.name.startswith("_")
)


DATABASE_KIND_NAMES = ("sqlite", "postgresql")


class DatabaseSelectionError(ValueError):
    """PORTAL_TEST_DATABASES asks for a run that is not allowed (see _database_kinds)."""


def _database_kinds(env: Mapping[str, str]) -> list[str]:
    """The databases every ``app`` test runs on, from an environment mapping (os.environ).

    PORTAL_TEST_DATABASES (comma-separated) narrows a local run. Under CI=true it may not drop
    the PostgreSQL tier: a CI run that passes without it has not tested what production runs, so
    that raises DatabaseSelectionError (and pytest_configure stops the run) instead of passing
    short. Unknown names and an empty list raise too, rather than run nothing.
    """
    ci = env.get("CI", "").lower() == "true"
    wanted = env.get("PORTAL_TEST_DATABASES")
    if wanted is None or not wanted.strip():
        with_pg = bool(env.get("PORTAL_TEST_DATABASE_URL")) or ci
        return ["sqlite", "postgresql"] if with_pg else ["sqlite"]
    kinds = list(dict.fromkeys(k.strip() for k in wanted.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in DATABASE_KIND_NAMES]
    if unknown or not kinds:
        raise DatabaseSelectionError(
            f"PORTAL_TEST_DATABASES={wanted!r} names no database kind or an unknown one "
            f"({', '.join(unknown) or 'empty'}); use a comma-separated list of "
            f"{', '.join(DATABASE_KIND_NAMES)}"
        )
    if ci and "postgresql" not in kinds:
        raise DatabaseSelectionError(
            f"CI=true but PORTAL_TEST_DATABASES={wanted!r} leaves out postgresql: a CI run "
            "must test every tier. Unset PORTAL_TEST_DATABASES (or include postgresql)."
        )
    return kinds


try:
    DATABASE_KINDS = _database_kinds(os.environ)
    _DATABASE_SELECTION_ERROR: str | None = None
except DatabaseSelectionError as exc:
    DATABASE_KINDS = ["sqlite"]  # never run: pytest_configure stops the session first
    _DATABASE_SELECTION_ERROR = str(exc)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"portal databases under test: {', '.join(DATABASE_KINDS)}"]
    if "postgresql" not in DATABASE_KINDS:
        lines.append("WARNING: PostgreSQL tier not run (set PORTAL_TEST_DATABASE_URL)")
    return lines


def pytest_configure(config: pytest.Config) -> None:
    if _DATABASE_SELECTION_ERROR:
        raise pytest.UsageError(_DATABASE_SELECTION_ERROR)
    config.addinivalue_line("markers", "config(**kw): extra app config for this test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked postgres_only checks what only PostgreSQL has (row security, query plans):
    its SQLite variant is left out of the run, not skipped, so no tier ever shows as skipped."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgres_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _create_pg_database(base_url: str) -> tuple[str, Any]:
    import psycopg

    url = make_url(base_url)
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {url.host}:{url.port} unreachable: {exc}", pytrace=False)

    def drop() -> None:
        # A fresh connection: a fault test may have restarted PostgreSQL since the creation.
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    ), drop


@pytest.fixture(scope="session", params=DATABASE_KINDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One empty database per kind per test session, with the schema created once."""
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "test.db")
        drop = None
    else:
        if not PG_URL:
            pytest.fail("CI=true but PORTAL_TEST_DATABASE_URL is not set", pytrace=False)
        url, drop = _create_pg_database(PG_URL)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("schema-instance")),
        }
    )
    with app.app_context():
        _db.create_all()
        _db.engine.dispose()
    yield url
    if drop:
        drop()


def _truncate_all() -> None:
    """Empty every table between tests (cheaper than recreating the schema)."""
    engine = _db.engine
    tables = [t.name for t in _db.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for table in reversed(tables):
                conn.execute(text(f'DELETE FROM "{table}"'))
    # Tables created outside the ORM metadata (FTS indexes) are emptied by their owners' hooks.


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to change the app's config for all its tests."""
    return {}


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, app_config: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[Flask]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        "MAIL_SUPPRESS_SEND": False,
        "NOTICE_CACHE_TTL": 0,
        "QUEUE_COUNTS_TTL": 0,
    }
    config.update(app_config)
    marker = request.node.get_closest_marker("config")
    if marker:
        config.update(marker.kwargs)
    application = create_app(config)
    with application.app_context():
        _truncate_all()
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """The SQLAlchemy extension inside an app context (db.session for queries)."""
    with app.app_context():
        yield _db


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_NOTICE.read_text(encoding="utf-8")


@pytest.fixture
def published_notice(app: Flask, seed_text: str) -> str:
    """The seed notice imported and published; returns its slug."""
    from portal.notices.service import import_notice

    with app.app_context():
        result = import_notice(seed_text, slug="dongguan-2024", publish=True)
        _db.session.commit()
        assert result.notice.state == "published", result.warnings
        return result.notice.slug


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def form_post(
    client: FlaskClient, url: str, data: dict[str, Any], *, form_url: str | None = None, **kw: Any
) -> Any:
    """GET the form like a browser, take its CSRF token, then POST data to url."""
    page = client.get(form_url or url)
    payload = dict(data)
    payload.setdefault("csrf_token", csrf_token_from(page.get_data(as_text=True)))
    return client.post(url, data=payload, **kw)


# --- staff -------------------------------------------------------------------------------------
# make_user(role, email, password, totp) creates an account (with a confirmed TOTP secret for
# roles that need 2FA); staff_login(role) returns a test client logged in through /staff/login.

STAFF_PASSWORD = "correct horse battery staple 42"


def totp_code_for(app: Flask, user_id: int) -> str:
    """A TOTP code the server will accept now: never a time step it has seen already."""
    import time

    import pyotp

    from portal.staff.models import User

    with app.app_context():
        user = _db.session.get(User, user_id)
        assert user is not None and user.totp_secret
        secret, last = user.totp_secret, user.totp_last_counter
    totp = pyotp.TOTP(secret)
    counter = int(time.time()) // totp.interval
    if last is not None and counter <= last:
        counter = last + 1  # the server accepts one step of drift ahead
    return totp.generate_otp(counter)


@pytest.fixture
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper argon2id parameters for tests that log in a lot (the machine has 2 cores).

    The production parameters are pinned by test_staff_auth.py.
    """
    from argon2 import PasswordHasher

    from portal.staff import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def make_user(app: Flask, fast_argon2: None) -> Any:
    from portal.staff.models import User

    made = 0

    def make(
        role: str = "triager",
        email: str | None = None,
        password: str = STAFF_PASSWORD,
        totp: bool | None = None,
        active: bool = True,
        offices: Any = (),
    ) -> User:
        """A staff account; an editor/triager/viewer holds its role in ``offices`` (office
        slugs or ids; default: the default office)."""
        import pyotp

        from portal.offices.models import Office
        from portal.offices.service import default_office, office_by_slug
        from portal.staff.models import GLOBAL_ROLES, STAFF, Membership, utcnow
        from portal.staff.passwords import hash_password

        nonlocal made
        made += 1
        with app.app_context():
            if totp is None:
                totp = role in app.config["TOTP_REQUIRED_ROLES"]
            user = User(
                email=email or f"{role}{made}-{uuid.uuid4().hex[:6]}@staff.test",
                display_name=f"{role} {made}",
                role=role if role in GLOBAL_ROLES else STAFF,
                password_hash=hash_password(password),
                active=active,
            )
            if role not in GLOBAL_ROLES:
                found = [
                    office_by_slug(o) if isinstance(o, str) else _db.session.get(Office, o)
                    for o in offices
                ] or [default_office()]
                for office in found:
                    assert office is not None, offices
                    user.memberships.append(Membership(office_id=office.id, role=role))
            if totp:
                user.totp_secret = pyotp.random_base32()
                user.totp_confirmed_at = utcnow()
            _db.session.add(user)
            _db.session.commit()
            _db.session.refresh(user)
            _db.session.expunge(user)
        user.plain_password = password  # type: ignore[attr-defined]
        return user

    return make


@pytest.fixture
def staff_login(app: Flask, make_user: Any) -> Any:
    def login(role: str = "triager", user: Any = None) -> FlaskClient:
        user = user or make_user(role)
        client = app.test_client()
        password = getattr(user, "plain_password", STAFF_PASSWORD)
        response = form_post(client, "/staff/login", {"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if response.location.endswith("/staff/login/verify"):
            code = totp_code_for(app, user.id)
            response = form_post(client, "/staff/login/verify", {"code": code})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert "/staff/login" not in response.location, response.location
        client.user = user  # type: ignore[attr-defined]
        return client

    return login
