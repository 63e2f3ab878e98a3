"""Full-text search over submissions for Chinese text written without spaces.

One row per submission in ``submission_search`` (SubmissionSearch) holds its subject, body,
follow-ups and replies, NFKC-normalised. The index on it depends on the database:

* SQLite: an FTS5 external-content table with ``tokenize='trigram'`` kept in step by triggers
  on submission_search. Trigrams cannot match a term shorter than three characters, so 1–2
  character terms use ``LIKE '%term%'`` on the same text.
* PostgreSQL: a pg_trgm GIN index on submission_search.text, used by ``ILIKE '%term%'``.

Search is a condition the queue adds to its own (queue.conditions), so every search is scoped to
the offices the staff member may read exactly like the queue's listing and counts.

The DDL runs from ``create_all`` (an ``after_create`` listener on the table) and from the
migration (``install_search_ddl(op.get_bind())``). ORM events on Submission, FollowUp and
Reply keep the rows current.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    delete,
    event,
    exists,
    insert,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.sql.expression import TextClause

from portal.extensions import db
from portal.intake.models import FollowUp, Submission
from portal.triage.models import Reply, SubmissionSearch

FTS_TABLE = "submission_search_fts"
PG_INDEX = "ix_submission_search_text_trgm"
MAX_TERMS = 8
MAX_TERM_CHARS = 100

# Constant DDL (no outside input), hence the S608 exemptions below.
SEARCH_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
        "text, content='submission_search', content_rowid='submission_id', "
        "tokenize='trigram')",
        "CREATE TRIGGER IF NOT EXISTS submission_search_ai AFTER INSERT ON submission_search "  # noqa: S608
        f"BEGIN INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.submission_id, new.text); END",
        "CREATE TRIGGER IF NOT EXISTS submission_search_ad AFTER DELETE ON submission_search "  # noqa: S608
        f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) "
        "VALUES ('delete', old.submission_id, old.text); END",
        "CREATE TRIGGER IF NOT EXISTS submission_search_au AFTER UPDATE ON submission_search "  # noqa: S608
        f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) "
        "VALUES ('delete', old.submission_id, old.text); "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.submission_id, new.text); END",
    ),
    "postgresql": (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON submission_search USING gin (text gin_trgm_ops)",
    ),
}

# For a migration's downgrade (the table itself is dropped by Alembic).
SEARCH_DROP_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS submission_search_ai",
        "DROP TRIGGER IF EXISTS submission_search_ad",
        "DROP TRIGGER IF EXISTS submission_search_au",
        f"DROP TABLE IF EXISTS {FTS_TABLE}",
    ),
    "postgresql": (f"DROP INDEX IF EXISTS {PG_INDEX}",),
}

# Tables FTS5 creates beside its own: a migration env's include_object should skip these.
SQLITE_SHADOW_TABLES = frozenset(
    {FTS_TABLE} | {f"{FTS_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config")}
)
# Everything SEARCH_DDL creates outside the ORM metadata; Alembic's autogenerate skips these.
RAW_DDL_OBJECTS = SQLITE_SHADOW_TABLES | {PG_INDEX}


def alembic_include_object(
    _obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any
) -> bool:
    return not (reflected and type_ in ("table", "index") and name in RAW_DDL_OBJECTS)


def install_search_ddl(connection: Connection) -> None:
    """Create the search index for this connection's database (idempotent)."""
    for statement in SEARCH_DDL.get(connection.dialect.name, ()):
        connection.execute(text(statement))


def drop_search_ddl(connection: Connection) -> None:
    for statement in SEARCH_DROP_DDL.get(connection.dialect.name, ()):
        connection.execute(text(statement))


@event.listens_for(SubmissionSearch.__table__, "after_create")
def _after_create(_table: Any, connection: Connection, **_kw: Any) -> None:
    install_search_ddl(connection)


@event.listens_for(SubmissionSearch.__table__, "before_drop")
def _before_drop(_table: Any, connection: Connection, **_kw: Any) -> None:
    drop_search_ddl(connection)


# --- the indexed text ----------------------------------------------------------------------------


def normalise(value: str) -> str:
    """NFKC folds full-width letters and digits, so 'ＡＢＣ' finds 'abc'."""
    return unicodedata.normalize("NFKC", value)


def build_text(subject: str | None, body: str | None, extra: Iterable[str | None] = ()) -> str:
    parts = [subject or "", body or "", *(e or "" for e in extra)]
    return normalise("\n".join(p for p in parts if p))


def _text_for(connection: Connection, submission_id: int) -> str | None:
    row = connection.execute(
        select(Submission.subject, Submission.body).where(Submission.id == submission_id)
    ).first()
    if row is None:
        return None
    extra = list(
        connection.scalars(
            select(FollowUp.body)
            .where(FollowUp.submission_id == submission_id)
            .order_by(FollowUp.at, FollowUp.id)
        )
    )
    extra += list(
        connection.scalars(
            select(Reply.body).where(Reply.submission_id == submission_id).order_by(Reply.id)
        )
    )
    return build_text(row.subject, row.body, extra)


def reindex(submission_id: int, connection: Connection | None = None) -> None:
    """Rebuild one submission's search row (inside the caller's transaction; no commit)."""
    conn = connection if connection is not None else db.session.connection()
    content = _text_for(conn, submission_id)
    conn.execute(delete(SubmissionSearch).where(SubmissionSearch.submission_id == submission_id))
    if content is not None:
        conn.execute(insert(SubmissionSearch).values(submission_id=submission_id, text=content))


@event.listens_for(Submission, "after_insert")
def _submission_inserted(_mapper: Any, connection: Connection, target: Submission) -> None:
    # A new submission has no follow-ups or replies yet: one INSERT, no lookups.
    connection.execute(
        insert(SubmissionSearch).values(
            submission_id=target.id, text=build_text(target.subject, target.body, [])
        )
    )


@event.listens_for(Submission, "after_update")
def _submission_updated(_mapper: Any, connection: Connection, target: Submission) -> None:
    state = inspect(target)
    if state.attrs.subject.history.has_changes() or state.attrs.body.history.has_changes():
        reindex(target.id, connection)


@event.listens_for(FollowUp, "after_insert")
@event.listens_for(FollowUp, "after_update")
@event.listens_for(FollowUp, "after_delete")
def _follow_up_changed(_mapper: Any, connection: Connection, target: FollowUp) -> None:
    if target.submission_id is not None:
        reindex(target.submission_id, connection)


@event.listens_for(Reply, "after_insert")
def _reply_inserted(_mapper: Any, connection: Connection, target: Reply) -> None:
    reindex(target.submission_id, connection)


@event.listens_for(Reply, "after_update")
def _reply_updated(_mapper: Any, connection: Connection, target: Reply) -> None:
    # Setting outbox_id or the publication state leaves the searchable text as it was.
    if inspect(target).attrs.body.history.has_changes():
        reindex(target.submission_id, connection)


# --- querying -------------------------------------------------------------------------------------


def terms_of(query: str) -> list[str]:
    """Whitespace-separated terms, normalised, de-duplicated, bounded in number and length."""
    seen: dict[str, None] = {}
    for term in normalise(query).split():
        seen.setdefault(term[:MAX_TERM_CHARS], None)
    return list(seen)[:MAX_TERMS]


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _fts_ids(terms: Sequence[str]) -> Any:
    match: TextClause = text(f"{FTS_TABLE} MATCH :fts_query").bindparams(
        fts_query=" AND ".join(_fts_phrase(t) for t in terms)
    )
    return select(literal_column("rowid", Integer)).select_from(text(FTS_TABLE)).where(match)


def search_condition(query: str, dialect_name: str) -> ColumnElement[bool] | None:
    """A WHERE condition on Submission.id for ``query``; None when the query has no terms.

    Every term must occur (AND), as a substring, anywhere in the submission's text.
    """
    terms = terms_of(query)
    if not terms:
        return None
    column = SubmissionSearch.text
    conditions: list[ColumnElement[bool]] = []
    if dialect_name == "sqlite":
        long_terms = [t for t in terms if len(t) >= 3]
        if long_terms:
            conditions.append(Submission.id.in_(_fts_ids(long_terms)))
        short = [column.like(_like_pattern(t), escape="\\") for t in terms if len(t) < 3]
        if short:
            # Trigrams cannot match 1-2 characters. A correlated EXISTS lets SQLite walk the
            # queue's (received_at, id) index and stop after one page; an IN (subquery) would
            # read every row's text first.
            conditions.append(
                exists().where(SubmissionSearch.submission_id == Submission.id, *short)
            )
        return and_(*conditions)
    short = [column.ilike(_like_pattern(t), escape="\\") for t in terms]
    if short:
        conditions.append(
            Submission.id.in_(select(SubmissionSearch.submission_id).where(and_(*short)))
        )
    return and_(*conditions)
