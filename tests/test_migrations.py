"""Every Alembic revision upgrades and downgrades, on an empty and on a populated database,
and the head schema is exactly what the models declare (nothing forgotten in a migration)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.triage.search import SQLITE_SHADOW_TABLES
from tests.conftest import PG_URL, ROOT, _create_pg_database, _database_kinds

MIGRATIONS = ROOT / "migrations"


@pytest.fixture(params=_database_kinds())
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    if request.param == "sqlite":
        url, drop = "sqlite:///" + str(tmp_path / "migrations.db"), None
    else:
        if not PG_URL:
            pytest.fail("PORTAL_TEST_DATABASE_URL is not set", pytrace=False)
        url, drop = _create_pg_database(PG_URL)
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "i")}
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def revisions() -> list[str]:
    script = ScriptDirectory(str(MIGRATIONS))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_one_linear_history():
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1
    assert revisions(), "no migration at all"


def test_head_matches_the_models(empty_app):
    upgrade(directory=str(MIGRATIONS))
    with db.engine.connect() as conn:
        # The FTS5 shadow tables are created by raw DDL in the search migration, on purpose.
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "include_object": include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and reflected and name in SQLITE_SHADOW_TABLES)


def test_each_revision_up_and_down_on_a_populated_database(empty_app, seed_text):
    from portal.notices.models import Notice
    from portal.notices.service import import_notice

    for revision in revisions():
        upgrade(directory=str(MIGRATIONS), revision=revision)
        downgrade(directory=str(MIGRATIONS), revision="-1")
        upgrade(directory=str(MIGRATIONS), revision=revision)
    import_notice(seed_text, slug="populated", publish=True)
    db.session.commit()
    assert db.session.scalar(select(func.count(Notice.id))) == 1
    db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="base")
    upgrade(directory=str(MIGRATIONS))
    assert db.session.scalar(select(func.count(Notice.id))) == 0
