"""case loop (issue #17): ratings, clock pauses, identity disputes

Three new tables, empty at first: case_ratings (好差评 of an answer, with the escalation deadline
of an unsatisfied one), case_pauses (等待补充: the reply clock stopped while staff wait for the
submitter) and identity_disputes ("this was not me"). On PostgreSQL each gets the office policy
of every table that hangs off a submission (see portal/staff/rls.py). No existing row changes;
the new statuses (waiting, follow_up, reopened) fit the existing status column.

Revision ID: 0012_case_loop
Revises: 0011_routing
Create Date: 2026-11-29 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_case_loop"
down_revision = "0011_routing"
branch_labels = None
depends_on = None

TABLES = ("case_ratings", "case_pauses", "identity_disputes")
# Frozen copy of the policy of portal.staff.rls as of this revision.
POLICY = "portal_office_scope"


UNSCOPED = "(SELECT coalesce(current_setting('portal.office_ids', true), '') IN ('', '*'))"


def _rule(table: str) -> str:
    visible = f"EXISTS (SELECT 1 FROM submissions s WHERE s.id = {table}.submission_id)"  # noqa: S608 - table names are constants
    return f"({UNSCOPED} OR {visible})"


def _submission_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["submission_id"],
        ["submissions.id"],
        name=op.f(f"fk_{table}_submission_id_submissions"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "case_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.String(length=24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalation_due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["replies.id"],
            name=op.f("fk_case_ratings_reply_id_replies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["users.id"],
            name=op.f("fk_case_ratings_staff_id_users"),
            ondelete="SET NULL",
        ),
        _submission_fk("case_ratings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_ratings")),
    )
    op.create_table(
        "case_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_by", sa.String(length=200), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_on", sa.Date(), nullable=False),
        sa.Column("resumed_on", sa.Date(), nullable=True),
        sa.Column("paused_workdays", sa.Integer(), nullable=True),
        sa.Column("due_before", sa.Date(), nullable=True),
        sa.Column("due_after", sa.Date(), nullable=True),
        sa.Column("follow_up_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_ups.id"],
            name=op.f("fk_case_pauses_follow_up_id_follow_ups"),
            ondelete="SET NULL",
        ),
        _submission_fk("case_pauses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_pauses")),
    )
    op.create_table(
        "identity_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        _submission_fk("identity_disputes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_disputes")),
    )
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_submission_id"), ["submission_id"], unique=False
            )
    with op.batch_alter_table("identity_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_disputes_state"), ["state"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            rule = _rule(table)
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} FOR ALL USING {rule} WITH CHECK {rule}")


def downgrade() -> None:
    # Dropping a table drops its policy and indexes too.
    for table in reversed(TABLES):
        op.drop_table(table)
