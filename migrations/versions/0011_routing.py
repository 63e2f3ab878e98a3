"""routing (issue #15): dismissed finding suggestions

E2: a new table finding_dismissals (one row per submission and finding staff judged a wrong
suggestion), empty at first; on PostgreSQL it gets the office policy of every table that hangs
off a submission (see portal/staff/rls.py). No existing row changes.

Revision ID: 0011_routing
Revises: 0010_audit_anchors
Create Date: 2026-11-29 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_routing"
down_revision = "0010_audit_anchors"
branch_labels = None
depends_on = None

# --- E2: dismissed suggestions ---------------------------------------------------------------
# Frozen copy of the policy of portal.staff.rls as of this revision.
E2_POLICY = "portal_office_scope"
E2_RULE = (
    "((SELECT coalesce(current_setting('portal.office_ids', true), '') IN ('', '*')) "
    "OR EXISTS (SELECT 1 FROM submissions s WHERE s.id = finding_dismissals.submission_id))"
)


def e2_upgrade() -> None:
    op.create_table(
        "finding_dismissals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_finding_dismissals_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_finding_dismissals_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_dismissals")),
        sa.UniqueConstraint(
            "submission_id", "finding_id", name=op.f("uq_finding_dismissals_submission_id")
        ),
    )
    with op.batch_alter_table("finding_dismissals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_finding_dismissals_submission_id"), ["submission_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE finding_dismissals ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE finding_dismissals FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {E2_POLICY} ON finding_dismissals FOR ALL "
            f"USING {E2_RULE} WITH CHECK {E2_RULE}"
        )


def e2_downgrade() -> None:
    # Dropping the table drops its policy too.
    with op.batch_alter_table("finding_dismissals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_dismissals_submission_id"))
    op.drop_table("finding_dismissals")


# --- end E2 ------------------------------------------------------------------------------------


def upgrade() -> None:
    e2_upgrade()


def downgrade() -> None:
    e2_downgrade()
