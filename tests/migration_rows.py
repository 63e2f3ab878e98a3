"""Rows for the migration tests, written against the schema a database has at some revision.

The tables are reflected from the database, never taken from the ORM models: an old revision's
tables differ from today's models. Every value is derived from (table, column, row number), so a
test can say what a column must hold without reading it back first.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.exc import SAWarning

Rows = dict[str, list[dict[str, Any]]]
ROWS_PER_TABLE = 2
SEARCH_PHRASE = "购物卡"
# Values that mean something to the application, where a generic string would not do.
OVERRIDES: dict[tuple[str, str], Any] = {
    # A receipt code in its display form (XXXXX-XXXXX), as intake stores it.
    ("submissions", "code"): lambda n: f"7K3M9-Q2XP{n}",
    ("submission_search", "text"): lambda n: (
        f"单位过节发{SEARCH_PHRASE}，请核查是否违反财经纪律。{n}"
    ),
}


def code_of_submission(n: int) -> str:
    return str(OVERRIDES[("submissions", "code")](n))


@dataclass(frozen=True)
class Schema:
    """A database's schema at one moment: the tables holding data, reflected as they are (not
    as the models declare them), and the shape of everything, index objects included."""

    tables: MetaData
    shape: dict[str, Any]


def _sqlite_index_tables(conn: Connection, names: Iterable[str]) -> set[str]:
    """Full-text tables and the shadow tables SQLite keeps for them: an index, not data."""
    if conn.dialect.name != "sqlite":
        return set()
    virtual = set(
        conn.scalars(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'"
            )
        )
    )
    return {n for n in names if n in virtual or any(n.startswith(f"{v}_") for v in virtual)}


def _table_shape(table: Table) -> dict[str, Any]:
    return {
        # Sorted: a column dropped and added back comes last, which no query notices.
        "columns": sorted((c.name, repr(c.type), c.nullable) for c in table.columns),
        "indexes": sorted((str(i.name), i.unique) for i in table.indexes),
        "unique": sorted(str(u.name) for u in table.constraints if isinstance(u, UniqueConstraint)),
        "foreign_keys": sorted(
            (tuple(fk.column_keys), fk.referred_table.name, fk.ondelete)
            for fk in table.foreign_key_constraints
        ),
    }


def reflect(conn: Connection) -> Schema:
    """The schema as it is now. A downgrade must give back exactly the shape it found."""
    everything = MetaData()
    with warnings.catch_warnings():
        # FTS5 columns have no declared type; SQLAlchemy says so.
        warnings.filterwarnings("ignore", "Did not recognize type", SAWarning)
        everything.reflect(bind=conn, only=lambda name, _meta: name != "alembic_version")
    index_tables = _sqlite_index_tables(conn, everything.tables)
    tables = MetaData()
    for table in everything.sorted_tables:
        if table.name not in index_tables:
            table.to_metadata(tables)
    shape: dict[str, Any] = {"tables": {t.name: _table_shape(t) for t in everything.sorted_tables}}
    if conn.dialect.name == "sqlite":
        shape["triggers"] = sorted(
            conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        )
    return Schema(tables, shape)


def value_for(table: Table, column: Column[Any], n: int, conn: Connection) -> Any:
    """Row n's value (n from 1): nullable columns are filled in row 1 and empty in the others."""
    if column.nullable and n > 1:
        return None
    override = OVERRIDES.get((table.name, column.name))
    if override is not None:
        return override(n)
    if column.foreign_keys:
        (fk,) = column.foreign_keys
        target = fk.column
        values = conn.scalars(select(target).order_by(target)).all()
        assert values, f"{table.name}.{column.name}: {target.table.name} is empty"
        # Row n refers to the n-th row from the end, so ids never line up by accident and a
        # join on the wrong column finds the wrong row.
        return values[-n % len(values)]
    kind = column.type
    if isinstance(kind, Boolean):
        return n % 2 == 1
    if isinstance(kind, BigInteger):
        return 2**40 + n  # does not fit in 32 bits
    if isinstance(kind, Integer):
        return 7 * n
    if isinstance(kind, Float):
        return n + 0.25  # exact in binary floating point
    if isinstance(kind, DateTime):
        at = datetime(2024, 2, n, 9, 30, 15, tzinfo=UTC)
        return at if kind.timezone else at.replace(tzinfo=None)
    if isinstance(kind, Date):
        return date(2024, 2, n)
    if isinstance(kind, LargeBinary):
        return b"\x00\xffraw" + bytes([n])
    if isinstance(kind, JSON):
        return {"n": n, "note": "整改", "items": [n, None]}
    if isinstance(kind, String):
        suffix = f"#{n}"
        core = f"{column.name}·整改"
        if kind.length:
            core = core[: kind.length - len(suffix)]
        return core + suffix
    raise AssertionError(
        f"{table.name}.{column.name}: no test value for type {kind!r}; teach value_for about it"
    )


def _generated_primary_key(table: Table) -> bool:
    """A lone integer key without a foreign key: the database numbers the rows."""
    keys = list(table.primary_key.columns)
    return len(keys) == 1 and isinstance(keys[0].type, Integer) and not keys[0].foreign_keys


def insert_row(conn: Connection, table: Table, n: int, **values: Any) -> Any:
    """Insert row n (values given override the generated ones); returns its primary key."""
    generated = _generated_primary_key(table)
    row = {
        c.name: value_for(table, c, n, conn)
        for c in table.columns
        if c.name not in values and not (generated and c.primary_key)
    }
    key = conn.execute(table.insert().values(**row, **values)).inserted_primary_key
    assert key is not None
    return key[0]


def populate_empty_tables(conn: Connection, metadata: MetaData) -> None:
    """Insert ROWS_PER_TABLE rows into every empty table, referenced tables first."""
    for table in metadata.sorted_tables:
        if not conn.scalar(select(func.count()).select_from(table)):
            for n in range(1, ROWS_PER_TABLE + 1):
                insert_row(conn, table, n)


def snapshot(conn: Connection, metadata: MetaData) -> Rows:
    """Every row of every table, ordered by primary key, as column -> value."""
    rows: Rows = {}
    for table in metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        result = conn.execute(select(table).order_by(*order))
        rows[table.name] = [dict(r._mapping) for r in result]
    return rows


def shared_columns(
    first: MetaData, second: MetaData, leave_out: Collection[str] = ()
) -> dict[str, list[str]]:
    """Table -> the columns it has in both schemas (before and after one revision)."""
    return {
        name: [c.name for c in table.columns if c.name in second.tables[name].columns]
        for name, table in first.tables.items()
        if name in second.tables and name not in leave_out
    }


def project(rows: Rows, columns: dict[str, list[str]]) -> Rows:
    """Only these tables and columns of rows."""
    return {
        table: [{c: row[c] for c in names} for row in rows[table]]
        for table, names in columns.items()
    }
