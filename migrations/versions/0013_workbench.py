"""staff workbench (issue #18): canned replies belong to an office and can be retired

canned_replies gains office_id (the office whose staff manage and use the text) and retired_at
(no longer offered, kept for the record). Existing rows: a finding's text goes to the office of
that finding's notice; a general text (no finding) to the default office, the only office there
was when general texts were written. No row is retired.

Revision ID: 0013_workbench
Revises: 0012_case_loop
Create Date: 2026-11-29 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_workbench"
down_revision = "0012_case_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("office_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_canned_replies_office_id"), ["office_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_canned_replies_office_id_offices"), "offices", ["office_id"], ["id"]
        )
    op.execute(
        "UPDATE canned_replies SET office_id = (SELECT n.office_id FROM findings f "
        "JOIN notices n ON n.id = f.notice_id WHERE f.id = canned_replies.finding_id) "
        "WHERE finding_id IS NOT NULL"
    )
    op.execute(
        "UPDATE canned_replies SET office_id = (SELECT min(id) FROM offices WHERE is_default) "
        "WHERE finding_id IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_canned_replies_office_id_offices"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_canned_replies_office_id"))
        batch_op.drop_column("retired_at")
        batch_op.drop_column("office_id")
