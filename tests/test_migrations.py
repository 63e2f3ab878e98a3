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
from portal.triage.search import alembic_include_object
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
        # The search index objects are created by raw DDL in the migration, on purpose.
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "include_object": alembic_include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_each_revision_up_and_down_on_a_populated_database(empty_app, seed_text):
    from portal.intake.models import Submission
    from portal.intake.service import Incoming, record_submission
    from portal.notices.models import Notice
    from portal.notices.service import import_notice
    from portal.triage.search import search_condition

    for revision in revisions():
        upgrade(directory=str(MIGRATIONS), revision=revision)
        downgrade(directory=str(MIGRATIONS), revision="-1")
        upgrade(directory=str(MIGRATIONS), revision=revision)
    notice = import_notice(seed_text, slug="populated", publish=True).notice
    db.session.commit()
    body = "单位过节发购物卡，请核查是否违反财经纪律。"
    receipt = record_submission(Incoming(channel="web", body=body, notice=notice, findings=[14]))
    assert db.session.scalar(select(func.count(Notice.id))) == 1
    # The search index the migration installed (FTS5 / pg_trgm) answers on the populated rows.
    dialect = db.engine.dialect.name
    found = db.session.scalars(
        select(Submission.code).where(search_condition("购物卡", dialect))
    ).all()
    assert found == [receipt.code]
    db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="base")
    upgrade(directory=str(MIGRATIONS))
    assert db.session.scalar(select(func.count(Notice.id))) == 0
