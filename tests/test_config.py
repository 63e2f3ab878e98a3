"""Configuration contract: defaults, then instance/config.py, then PORTAL_* variables."""

from __future__ import annotations

import pytest

from portal import create_app


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("PORTAL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "inst"))
    return tmp_path / "inst"


def test_defaults_use_sqlite_in_the_instance_folder(clean_env):
    app = create_app()
    assert app.instance_path == str(clean_env.resolve())
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{clean_env.resolve()}/portal.db"
    assert app.config["BABEL_DEFAULT_LOCALE"].startswith("zh")


def test_instance_config_then_environment_override(clean_env, monkeypatch):
    clean_env.mkdir(parents=True)
    (clean_env / "config.py").write_text('OFFICE_NAME = "甲"\nACK_WITHIN_WORKDAYS = 7\n')
    app = create_app()
    assert app.config["OFFICE_NAME"] == "甲"
    assert app.config["ACK_WITHIN_WORKDAYS"] == 7
    monkeypatch.setenv("PORTAL_OFFICE_NAME", "乙")
    monkeypatch.setenv("PORTAL_SQLALCHEMY_DATABASE_URI", "sqlite:////tmp/elsewhere.db")
    app = create_app()
    assert app.config["OFFICE_NAME"] == "乙"
    assert app.config["ACK_WITHIN_WORKDAYS"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/elsewhere.db"


def test_secret_key_is_generated_once_into_the_instance_folder(clean_env):
    first = create_app().config["SECRET_KEY"]
    key_file = clean_env / "secret_key"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert len(first) >= 32
    assert create_app().config["SECRET_KEY"] == first


def test_https_makes_the_session_cookie_secure(clean_env, monkeypatch):
    assert create_app().config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("PORTAL_PREFERRED_URL_SCHEME", "https")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


def test_a_connection_lost_after_the_response_is_made_does_not_become_a_500(client, monkeypatch):
    """PostgreSQL restarting between a request's last query and its teardown must not turn a
    finished page into the WSGI server's bare 500."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    real_close = Session.close
    calls = []

    def close_on_a_dead_connection(self):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))
        return real_close(self)

    monkeypatch.setattr(Session, "close", close_on_a_dead_connection)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert calls, "the teardown never closed the session"
    assert client.get("/healthz").status_code == 200


def _portal_object(name: str) -> object | None:
    """The module or the module-level name a dotted portal.x.y names, if portal defines it."""
    import importlib
    import types

    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute, None)
        if found is None:
            return None
        # An import such as portal/__init__.py's `import secrets` is not portal.secrets.
        if isinstance(found, types.ModuleType):
            home = found.__name__
        else:
            home = getattr(found, "__module__", None) or "portal"  # constants have none
        return found if home.startswith("portal") else None
    return None


def test_every_portal_name_the_config_comments_cite_exists():
    """A reader following "see portal.x" in config.py finds x (a module or one of its names)."""
    import io
    import re
    import tokenize
    from pathlib import Path

    import portal.config

    source = Path(portal.config.__file__).read_text(encoding="utf-8")
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    prose = [t.string for t in tokens if t.type == tokenize.COMMENT]
    prose += [
        v.__doc__ or ""
        for v in [portal.config, *vars(portal.config).values()]
        if getattr(v, "__module__", portal.config.__name__) == portal.config.__name__
    ]
    # A module path, not a file in the instance folder (instance/portal.db).
    cited = set(re.findall(r"(?<![\w/])portal(?:\.[A-Za-z_]\w*)+", "\n".join(prose)))
    assert [name for name in sorted(cited) if _portal_object(name) is None] == []
