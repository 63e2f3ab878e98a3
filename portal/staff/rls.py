"""PostgreSQL row-level security: the office scope as a second line behind the app's filters.

scope.py sets ``portal.office_ids`` at the start of every transaction of a staff request
(``*`` every office, ``0`` none, else ``1,2,3``). The policies here read it:

* ``submissions`` and ``mail_messages``: a row is visible (and may be written) when its
  ``office_id`` is in the list; an unrouted row (office NULL) only with ``*``.
* every table that hangs off a submission: when that submission is visible to the same query
  (``EXISTS`` on submissions, whose own policy applies inside); outbox rows without a
  submission (mail to staff) stay visible. ``submission_search`` has no policy (UNGUARDED
  below says why).
* unset or empty (public pages, CLI, workers, migrations, or a pooled connection after a
  transaction-local setting ended): no staff scope, everything, as before.

Both the "no scope" test and the list of ids are scalar subqueries without outer references,
so PostgreSQL computes them once per query (an InitPlan), not once per row: a supervisor's
or admin's query pays nothing per row, and a triager's ``office_id = ANY(...)`` can still use
the office indexes.

``ENABLE`` and ``FORCE`` make the table owner subject to the policies too, so the app may run
as the owner. Superusers and roles with BYPASSRLS are never subject: the app must not run as
one. SQLite has no row-level security: there the app's filters (scope.py) are the only line.

Installed by migration 0006_row_security and, for schemas built with ``create_all`` (tests),
by the ``after_create`` listener on the metadata below. Alembic does not compare policies, so
autogenerate shows no difference either way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, MetaData, event, text

from portal.extensions import db

POLICY = "portal_office_scope"
SETTING = "current_setting('portal.office_ids', true)"
# No staff scope, or every office: the policies let everything through.
UNSCOPED = f"(SELECT coalesce({SETTING}, '') IN ('', '*'))"
# The visible office ids, computed once; the outer CAST only keeps "= ANY" from reading the
# scalar subquery as a set. '*' never reaches the inner cast.
OFFICE_IDS = (
    f"CAST((SELECT CAST(string_to_array(nullif(nullif({SETTING}, ''), '*'), ',') AS integer[]))"
    " AS integer[])"
)

# Tables scoped by their own office column.
OFFICE_TABLES: tuple[str, ...] = ("submissions", "mail_messages")
# Tables scoped through their submission: (table, whether rows without a submission exist).
SUBMISSION_TABLES: tuple[tuple[str, bool], ...] = (
    ("submission_findings", False),
    ("follow_ups", False),
    ("attachments", False),
    ("status_changes", False),
    ("triage_notes", False),
    ("assignments", False),
    ("referrals", False),
    ("duplicate_links", False),
    ("finding_dismissals", False),
    ("replies", False),
    ("case_ratings", False),
    ("case_pauses", False),
    ("identity_disputes", False),
    ("outbox", True),
)
# Tables with a submission_id and no policy, and why (tests check every other one has one).
UNGUARDED = {
    # Search text: under any policy, even "reads allowed", PostgreSQL neither uses the trigram
    # index for ILIKE (not LEAKPROOF) nor folds the search subquery into the queue's join, so a
    # search reads every row (2 s instead of 0.1 s at 100,000 rows; minutes at 10 M). The app
    # only ever reads it to pick submission ids, which then pass the submissions policy.
    "submission_search": "search index: a policy would turn every search into a full scan",
}


def office_rule(column: str = "office_id") -> str:
    return f"({UNSCOPED} OR {column} = ANY ({OFFICE_IDS}))"


def submission_rule(table: str, *, nullable: bool = False) -> str:
    visible = f"EXISTS (SELECT 1 FROM submissions s WHERE s.id = {table}.submission_id)"  # noqa: S608 - table names are constants
    if nullable:
        visible = f"({table}.submission_id IS NULL OR {visible})"
    return f"({UNSCOPED} OR {visible})"


def policy_rules() -> dict[str, str]:
    """Every protected table and its rule (one expression for USING and WITH CHECK)."""
    rules = {table: office_rule() for table in OFFICE_TABLES}
    rules.update(
        {table: submission_rule(table, nullable=nullable) for table, nullable in SUBMISSION_TABLES}
    )
    return rules


def install_statements(table: str, rule: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} FOR ALL USING {rule} WITH CHECK {rule}",
    ]


def drop_statements(table: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]


def install_row_security(connection: Connection, tables: set[str] | None = None) -> None:
    """Enable the policies on PostgreSQL (idempotent); nothing elsewhere. ``tables`` limits
    it to those that exist (default: all of them)."""
    if connection.dialect.name != "postgresql":
        return
    for table, rule in policy_rules().items():
        if tables is None or table in tables:
            for statement in install_statements(table, rule):
                connection.execute(text(statement))


def drop_row_security(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    for table in policy_rules():
        for statement in drop_statements(table):
            connection.execute(text(statement))


@event.listens_for(db.metadata, "after_create")
def _after_create(metadata: MetaData, connection: Connection, **_kw: Any) -> None:
    install_row_security(connection, set(metadata.tables))


@event.listens_for(Engine, "do_connect")
def _without_jit(dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    """PostgreSQL connections of the app run without JIT compilation.

    The planner cannot know that a policy's EXISTS is skipped for every office (the InitPlan
    short-circuits at run time), so it costs it per row: a count over 200,000 status changes
    is estimated at 1.7 M, above jit_above_cost, and compiling then takes ~1 s for a query
    that runs in 0.1 s. The portal's queries are short; none gains from JIT."""
    if dialect.name == "postgresql":
        cparams["options"] = f"{cparams.get('options', '')} -c jit=off".strip()
