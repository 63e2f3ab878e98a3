"""Many realistic submissions, fast, for demos and benchmarks (`flask dev seed`).

The rows come from generator.py and go in with PostgreSQL COPY or SQLite executemany, which
deliberately bypasses record_submission (no validation, no attachments, no acknowledgement mail,
no audit event per row); contact data is encrypted by its column's own type on the way.
"""

from __future__ import annotations

import json
import operator
import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import JSON, Connection, Date, DateTime, Dialect, Table, func, select, text

from portal.devtools.generator import CODE_SPACE, Batch, Generator, Target, topic_findings
from portal.extensions import db
from portal.intake.mail.models import MailMessage
from portal.intake.models import FollowUp, Submission, SubmissionFinding
from portal.notices.models import Finding, Notice
from portal.offices.service import ack_workdays, reply_workdays
from portal.personal_data import EncryptedText, derived_key
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
    ("mail", MailMessage.__tablename__),
)
# How much busier the busiest office is: office k (k = 1, 2, ...) gets weight 1 / k**SKEW, so
# with 200 offices the first has about a tenth of all submissions and the last ~0.05 %.
SKEW = 0.9
# Tables whose rows the generator numbers itself (submission_search is keyed by submission).
NUMBERED = tuple(name for _attr, name in TABLES if name != SubmissionSearch.__tablename__)


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _converter(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a value of this column type reaches the DB-API driver (None: as it is)."""
    if isinstance(column_type, EncryptedText):
        return lambda value: column_type.process_bind_param(value, dialect)
    if isinstance(column_type, JSON):
        return lambda value: json.dumps(value, ensure_ascii=False)
    if dialect.name == "sqlite" and isinstance(column_type, DateTime):
        return lambda value: value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if dialect.name == "sqlite" and isinstance(column_type, Date):
        return date.isoformat
    return None


def _driver_rows(
    connection: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[list[str], list[Sequence[Any]]]:
    """Column names and plain rows for the DB-API driver: contact data encrypted by the
    column's own type, JSON as text, and on SQLite timestamps in SQLAlchemy's storage format."""
    columns = list(rows[0])
    pick = operator.itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    converters = [
        (i, convert)
        for i, c in enumerate(columns)
        if (convert := _converter(table.c[c].type, connection.dialect))
    ]
    if not converters:
        return columns, [pick(row) for row in rows]
    out: list[Sequence[Any]] = []
    for row in rows:
        values = list(pick(row))
        for i, convert in converters:
            if values[i] is not None:
                values[i] = convert(values[i])
        out.append(values)
    return columns, out


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


def _drop_secondary_indexes(connection: Connection) -> list[str]:
    """Drop the non-unique indexes of the seeded tables; returns their definitions."""
    rows = connection.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(:tables) AND indexdef NOT LIKE 'CREATE UNIQUE %'"
        ),
        {"tables": [name for _attr, name in TABLES]},
    ).all()
    for name, _definition in rows:
        connection.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _name, definition in rows]


def _restore_indexes(connection: Connection, definitions: list[str]) -> None:
    if definitions:
        connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    for definition in definitions:
        connection.execute(text(definition))


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


def target_of(notice: Notice) -> Target:
    """Where submissions on ``notice`` go, and the findings each generated topic concerns."""
    ids_by_number = dict(
        db.session.execute(
            select(Finding.number, Finding.id).where(
                Finding.notice_id == notice.id, Finding.active.is_(True)
            )
        ).all()
    )
    cold = Router(finding_docs(notice))
    return Target(
        notice_id=notice.id,
        office_id=notice.office_id,
        finding_ids=[[ids_by_number[n] for n in numbers] for numbers in topic_findings(cold)],
        ack_days=ack_workdays(notice.office),
        reply_days=reply_workdays(notice.office),
    )


def skewed_weights(notices: Sequence[Notice]) -> list[float]:
    """A weight per notice: offices (in id order) get 1 / rank**SKEW, shared by their notices."""
    per_office: dict[int, int] = {}
    for notice in notices:
        per_office[notice.office_id] = per_office.get(notice.office_id, 0) + 1
    rank = {office_id: k for k, office_id in enumerate(sorted(per_office), start=1)}
    return [rank[n.office_id] ** -SKEW / per_office[n.office_id] for n in notices]


def seed_submissions(
    n: int,
    notices: Notice | Sequence[Notice],
    *,
    batch_size: int = 10_000,
    rng: random.Random | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert ``n`` generated submissions on ``notices`` (busy offices get many more, see
    skewed_weights), committing per batch; returns n."""
    rng = rng or random.Random()
    config = current_app.config
    engine = db.engine
    notices = [notices] if isinstance(notices, Notice) else list(notices)
    targets = [target_of(notice) for notice in notices]
    weights = skewed_weights(notices)
    db.session.commit()  # nothing of ours may hold locks while we bulk-load
    with engine.begin() as connection:
        next_ids = _next_ids(connection)
        big_pg = connection.dialect.name == "postgresql" and n >= 100_000
        # Building an index once at the end is much cheaper than row by row (the trigram
        # index above all): drop the secondary ones now, put them back in ``finally``.
        dropped = _drop_secondary_indexes(connection) if big_pg else []
    generator = Generator(
        rng=rng,
        targets=targets,
        weights=weights,
        calendar=WorkCalendar.from_config(config),
        now=datetime.now(UTC),
        next_ids=next_ids,
        code_base=rng.randrange(CODE_SPACE),
        secret_key=derived_key(SEED_SECRET_PURPOSE),
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
            _restore_indexes(connection, dropped)
            # Fresh statistics for the planner (PostgreSQL's autovacuum would get there later;
            # SQLite never gathers them by itself).
            connection.execute(text("ANALYZE"))
    return done
