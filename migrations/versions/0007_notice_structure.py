"""notice structure: finding labels and descriptions, measure statuses, line roles per revision

findings.label keeps the source's own numbering as written ("（1）", "问题2") and
findings.description the problem as described before 整改情况：; measures.status a measure's own
marker (已完成, 持续推进); notice_revisions.line_roles the roles an editor gave lines in the
preview. Existing findings get an empty label and description (their text is not re-parsed),
existing measures no status, existing revisions no roles: the public pages read as before.

Revision ID: 0007_notice_structure
Revises: 0006_row_security
Create Date: 2026-11-29 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_notice_structure"
down_revision = "0006_row_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("label", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
    # The empty default filled the existing rows; new rows get theirs from the application.
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column("label", server_default=None)
        batch_op.alter_column("description", server_default=None)
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=40), nullable=True))
    with op.batch_alter_table("notice_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line_roles", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice_revisions", schema=None) as batch_op:
        batch_op.drop_column("line_roles")
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.drop_column("status")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("description")
        batch_op.drop_column("label")
