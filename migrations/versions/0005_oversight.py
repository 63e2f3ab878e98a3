"""supervisor oversight: a snapshot of each office's figures and the lease to recompute it

Two new tables and nothing else: oversight_figures (one row per office and round, computed by
`flask oversight refresh` or on demand) and oversight_leases (one worker recomputes at a time).
The snapshot is derived data: the downgrade drops it and a refresh rebuilds it.

Revision ID: 0005_oversight
Revises: 0004_offices
Create Date: 2026-11-29 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_oversight"
down_revision = "0004_offices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oversight_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oversight_leases")),
    )
    op.create_table(
        "oversight_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=True),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answered_in_time", sa.Integer(), nullable=False),
        sa.Column("top_findings", sa.JSON(), nullable=False),
        sa.Column("silent_notices", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_oversight_figures_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
            name=op.f("fk_oversight_figures_round_id_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oversight_figures")),
    )
    with op.batch_alter_table("oversight_figures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oversight_figures_round_office", ["round_id", "office_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oversight_figures", schema=None) as batch_op:
        batch_op.drop_index("ix_oversight_figures_round_office")
    op.drop_table("oversight_figures")
    op.drop_table("oversight_leases")
