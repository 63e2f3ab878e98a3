"""Many realistic submissions, fast, for demos and benchmarks (`flask dev seed`).

The rows come from generator.py and go in with PostgreSQL COPY or SQLite executemany, which
deliberately bypasses record_submission (no validation, no attachments, no acknowledgement mail,
no audit event per row); contact data is encrypted by its column's own type on the way.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Table, func, select, text

from portal.devtools.generator import CODE_SPACE, Batch, Generator, topic_findings
from portal.extensions import db
from portal.intake.models import FollowUp, Submission, SubmissionFinding
from portal.notices.models import Finding, Notice
from portal.personal_data import EncryptedText, derived_key
from portal.triage import search
from portal.triage.findings import finding_docs
from portal.triage.models import Reply, StatusChange, SubmissionSearch
from portal.triage.routing import Router
from portal.workdays import WorkCalendar

SEED_SECRET_PURPOSE = "receipt-secret"  # noqa: S105 - the key label intake uses, not a secret

# (Batch attribute, table), parents before the rows that refer to them.
TABLES: tuple[tuple[str, str], ...] = (
    ("submissions", Submission.__tablename__),
    ("links", SubmissionFinding.__tablename__),
    ("changes", StatusChange.__tablename__),
    ("replies", Reply.__tablename__),
    ("follow_ups", FollowUp.__tablename__),
    ("search", SubmissionSearch.__tablename__),
)
# Tables whose rows the generator numbers itself (submission_search is keyed by submission).
NUMBERED = tuple(name for _attr, name in TABLES if name != SubmissionSearch.__tablename__)


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _driver_rows(
    connection: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and plain tuples for the DB-API driver: contact data encrypted by the
    column's own type, JSON as text, and on SQLite timestamps in SQLAlchemy's storage format."""
    columns = list(rows[0])
    encrypted = {
        c: column_type for c in columns if isinstance(column_type := table.c[c].type, EncryptedText)
    }
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite"

    def plain(column: str, value: Any) -> Any:
        if value is None:
            return None
        if column in encrypted:
            return encrypted[column].process_bind_param(value, dialect)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        if sqlite and isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if sqlite and isinstance(value, date):
            return value.isoformat()
        return value

    return columns, [tuple(plain(c, row[c]) for c in columns) for row in rows]


def _insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY FROM STDIN, SQLite executemany, both straight on the driver."""
    columns, values = _driver_rows(connection, table, rows)
    names = ", ".join(f'"{c}"' for c in columns)
    driver = connection.connection.driver_connection
    if driver is None:  # only a detached connection has no driver behind it
        raise RuntimeError("the database connection has been closed")
    cursor = driver.cursor()
    if connection.dialect.name == "postgresql":
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", values)  # noqa: S608
    cursor.close()


def write_batch(connection: Connection, batch: Batch) -> None:
    for attr, name in TABLES:
        rows = getattr(batch, attr)
        if rows:
            _insert(connection, _table(name), rows)


def _next_ids(connection: Connection) -> dict[str, int]:
    return {
        name: (connection.scalar(select(func.max(_table(name).c.id))) or 0) + 1 for name in NUMBERED
    }


def _fix_sequences(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    for name in NUMBERED:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
            )
        )


def seed_submissions(
    n: int,
    notice: Notice,
    *,
    batch_size: int = 10_000,
    rng: random.Random | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert ``n`` generated submissions on ``notice``, committing per batch; returns n."""
    rng = rng or random.Random()
    config = current_app.config
    engine = db.engine
    ids_by_number = dict(
        db.session.execute(
            select(Finding.number, Finding.id).where(
                Finding.notice_id == notice.id, Finding.active.is_(True)
            )
        ).all()
    )
    cold = Router(finding_docs(notice))
    finding_ids = [[ids_by_number[n] for n in numbers] for numbers in topic_findings(cold)]
    db.session.commit()  # nothing of ours may hold locks while we bulk-load
    with engine.begin() as connection:
        next_ids = _next_ids(connection)
        big_pg = connection.dialect.name == "postgresql" and n >= 100_000
        if big_pg:  # building the trigram index once is much cheaper than row by row
            search.drop_search_ddl(connection)
    generator = Generator(
        rng=rng,
        notice_id=notice.id,
        finding_ids=finding_ids,
        calendar=WorkCalendar.from_config(config),
        now=datetime.now(UTC),
        next_ids=next_ids,
        code_base=rng.randrange(CODE_SPACE),
        secret_key=derived_key(SEED_SECRET_PURPOSE),
        reply_days=config.get("REPLY_WITHIN_WORKDAYS", 15),
        ack_days=config.get("ACK_WITHIN_WORKDAYS", 3),
    )
    done = 0
    try:
        while done < n:
            size = min(batch_size, n - done)
            batch = generator.batch(size)
            with engine.begin() as connection:
                write_batch(connection, batch)
            done += size
            if progress:
                progress(done)
    finally:
        with engine.begin() as connection:
            _fix_sequences(connection)
            if big_pg:
                search.install_search_ddl(connection)
            # Fresh statistics for the planner (PostgreSQL's autovacuum would get there later;
            # SQLite never gathers them by itself).
            connection.execute(text("ANALYZE"))
    return done
