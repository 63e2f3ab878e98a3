"""outbox rows carry their submission's receipt code

The outbox sits below intake: it no longer reads the submission to learn the code for
`flask outbox list` and the Message-ID; the caller passes it and the row keeps it.

Revision ID: 0002_outbox_code
Revises: 0001_initial
Create Date: 2026-11-28 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_outbox_code"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_code", sa.String(length=11), nullable=True))
    op.execute(
        "UPDATE outbox SET submission_code = "
        "(SELECT code FROM submissions WHERE submissions.id = outbox.submission_id) "
        "WHERE submission_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("submission_code")
