"""audit chain keyed and anchored (issue #19, item 8)

audit_head gets keyed_from / keyed_mac: the first event hashed with the audit key (HMAC) and a
keyed tag of that number. Both stay NULL here: existing events keep their plain SHA-256 hashes
and the next recorded event sets the switch point (portal/audit/chain.py), so an existing chain
stays verifiable. A new table audit_anchors holds the head hashes `flask audit anchor` handed
out, empty at first. On PostgreSQL, triggers make events and audit_anchors append-only and let
the head row only move forward (portal/audit/append_only.py). No existing row changes.

Revision ID: 0010_audit_anchors
Revises: 0009_staff_auth
Create Date: 2026-11-29 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_audit_anchors"
down_revision = "0009_staff_auth"
branch_labels = None
depends_on = None

# Frozen copy of portal.audit.append_only as of this revision.
FUNCTION = "portal_audit_append_only"
HEAD_FUNCTION = "portal_audit_head_guard"
APPEND_ONLY_TABLES = ("events", "audit_anchors")
CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$
"""
CREATE_HEAD_FUNCTION = f"""
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


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keyed_from", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("keyed_mac", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed_to", sa.String(length=200), nullable=True),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_anchors_seq"), ["seq"], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CREATE_FUNCTION)
    op.execute(CREATE_HEAD_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {FUNCTION} BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )
    op.execute(
        f"CREATE TRIGGER {HEAD_FUNCTION} BEFORE UPDATE OR DELETE ON audit_head"
        f" FOR EACH ROW EXECUTE FUNCTION {HEAD_FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {HEAD_FUNCTION} ON audit_head")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
        op.execute(f"DROP FUNCTION IF EXISTS {HEAD_FUNCTION}()")
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_anchors_seq"))
    op.drop_table("audit_anchors")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("keyed_mac")
        batch_op.drop_column("keyed_from")
