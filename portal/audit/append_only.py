"""PostgreSQL: the audit tables are append-only for the app's role.

Triggers refuse every UPDATE and DELETE of ``events`` and ``audit_anchors``, a DELETE of the
``audit_head`` row, and on it any change that moves the sequence backwards or the start of keyed
hashing once set. Nothing in the portal updates or deletes events (retention pseudonymises the
submission rows and records an event; it never touches the log), so no exception is needed.
A trigger binds every role, the table owner included; only a superuser can switch triggers
off (``session_replication_role``), and the keyed chain and anchors still catch what such a
person changes. Run the app as a role that does not own the tables so it cannot drop the
triggers either (deploy/README.md). SQLite has no such guard; the key and anchors remain.

Installed by migration 0010_audit_anchors and, for schemas built with ``create_all`` (tests),
by the ``after_create`` listener below.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, MetaData, event, text

from portal.extensions import db

FUNCTION = "portal_audit_append_only"
HEAD_FUNCTION = "portal_audit_head_guard"
APPEND_ONLY_TABLES = ("events", "audit_anchors")

_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$
"""
_CREATE_HEAD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {HEAD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit head cannot be deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.seq < OLD.seq OR NEW.id <> OLD.id
     OR (OLD.keyed_from IS NOT NULL AND (NEW.keyed_from IS DISTINCT FROM OLD.keyed_from
         OR NEW.keyed_mac IS DISTINCT FROM OLD.keyed_mac)) THEN
    RAISE EXCEPTION 'audit head may only move forward' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$
"""


def install_statements() -> list[str]:
    statements = [_CREATE_FUNCTION, _CREATE_HEAD_FUNCTION]
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}",
            f"CREATE TRIGGER {FUNCTION} BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        ]
    return [
        *statements,
        f"DROP TRIGGER IF EXISTS {HEAD_FUNCTION} ON audit_head",
        f"CREATE TRIGGER {HEAD_FUNCTION} BEFORE UPDATE OR DELETE ON audit_head"
        f" FOR EACH ROW EXECUTE FUNCTION {HEAD_FUNCTION}()",
    ]


def drop_statements() -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}" for table in APPEND_ONLY_TABLES),
        f"DROP TRIGGER IF EXISTS {HEAD_FUNCTION} ON audit_head",
        f"DROP FUNCTION IF EXISTS {FUNCTION}()",
        f"DROP FUNCTION IF EXISTS {HEAD_FUNCTION}()",
    ]


def install_append_only(connection: Connection) -> None:
    """Install the guards on PostgreSQL (idempotent); nothing elsewhere."""
    if connection.dialect.name != "postgresql":
        return
    for statement in install_statements():
        connection.execute(text(statement))


def drop_append_only(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    for statement in drop_statements():
        connection.execute(text(statement))


@event.listens_for(db.metadata, "after_create")
def _after_create(metadata: MetaData, connection: Connection, **_kw: Any) -> None:
    if {"events", "audit_anchors", "audit_head"} <= set(metadata.tables):
        install_append_only(connection)
