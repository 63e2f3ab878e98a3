"""migrations/env.py runs SQLite migrations with foreign keys off.

Batch mode on SQLite rebuilds a table: it copies it, drops the old one and renames the copy. The
app's connect hook turns ``PRAGMA foreign_keys`` on, and with it on, dropping the old table fires
ON DELETE CASCADE / SET NULL in every table that points at it, silently emptying them. The
throwaway revision below rebuilds ``findings`` the way any future batch migration on it would,
against a copy of the real migrations/ folder (env.py included), on a database with rows in every
table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, select

from portal import create_app
from portal.extensions import db
from tests.conftest import ROOT
from tests.migration_rows import Rows, populate_empty_tables, project, reflect, shared_columns
from tests.migration_rows import snapshot as snapshot_rows

SCRATCH_REVISION = "9999_scratch_rebuild"
SCRATCH_SCRIPT = '''"""throwaway: rebuild findings in batch mode (tests/test_migrations_env.py)"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("findings", recreate="always") as b:
        b.add_column(sa.Column("scratch", sa.Integer()))


def downgrade():
    with op.batch_alter_table("findings", recreate="always") as b:
        b.drop_column("scratch")
'''

# Every table with a foreign key to findings, and that column.
FINDING_CHILDREN = {
    "canned_replies": "finding_id",  # ON DELETE CASCADE
    "finding_status_changes": "finding_id",  # CASCADE
    "measures": "finding_id",  # CASCADE
    "submission_findings": "finding_id",  # CASCADE
    "replies": "public_finding_id",  # SET NULL
}


def copy_migrations(tmp_path: Path) -> tuple[Path, str]:
    """migrations/ copied, plus a revision on top of its head that rebuilds findings."""
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory(str(copy)).get_current_head()
    assert head is not None
    (copy / "versions" / f"{SCRATCH_REVISION}.py").write_text(
        SCRATCH_SCRIPT.format(revision=SCRATCH_REVISION, down_revision=head), encoding="utf-8"
    )
    return copy, head


def finding_references(conn: Connection) -> dict[str, list[object]]:
    """Each child table's references to findings, in primary key order."""
    tables = reflect(conn).tables.tables
    return {
        name: list(
            conn.scalars(select(tables[name].c[column]).order_by(*tables[name].primary_key.columns))
        )
        for name, column in FINDING_CHILDREN.items()
    }


def test_batch_rebuild_on_sqlite_keeps_child_rows(tmp_path: Path) -> None:
    directory, head = copy_migrations(tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "portal.db"),
            "INSTANCE_PATH": str(tmp_path / "inst"),
        }
    )
    with app.app_context():
        try:
            engine = db.engine
            upgrade(directory=str(directory), revision=head)
            with engine.begin() as conn:
                before = reflect(conn)
                # Two rows in every table, the children of findings pointing at real findings.
                populate_empty_tables(conn, before.tables)
            with engine.connect() as conn:
                rows = snapshot_rows(conn, before.tables)
                references = finding_references(conn)
            assert all(len(rows[t]) == 2 for t in ["findings", *FINDING_CHILDREN]), rows
            finding_ids = {r["id"] for r in rows["findings"]}
            # Row 1 of each child fills its nullable columns too (replies.public_finding_id).
            for name, values in references.items():
                assert values[0] in finding_ids, (name, values)

            def assert_rows_kept(when: str) -> None:
                with engine.connect() as conn:
                    now = reflect(conn)
                    assert finding_references(conn) == references, f"finding references {when}"
                    common = shared_columns(before.tables, now.tables)
                    kept: Rows = project(snapshot_rows(conn, now.tables), common)
                assert {t: len(r) for t, r in kept.items()} == {
                    t: len(r) for t, r in rows.items()
                }, f"row counts {when}"
                assert kept == project(rows, common), f"rows changed {when}"

            upgrade(directory=str(directory), revision=SCRATCH_REVISION)
            with engine.connect() as conn:
                assert "scratch" in reflect(conn).tables.tables["findings"].columns
            assert_rows_kept(f"by upgrade to {SCRATCH_REVISION}")

            downgrade(directory=str(directory), revision="-1")
            with engine.connect() as conn:
                assert reflect(conn).shape == before.shape
            assert_rows_kept(f"by downgrade of {SCRATCH_REVISION}")

            # env.py turned foreign keys back on before the pool got its connection back.
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        finally:
            db.session.remove()
            db.engine.dispose()
