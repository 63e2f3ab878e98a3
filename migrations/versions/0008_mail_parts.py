"""mail parts: a mailed follow-up from another address waits for staff review

follow_ups.review_state is "held" for a follow-up mailed from an address other than the
submission's contact (never shown on /track until staff accept it), "accepted" or "rejected"
once staff decide. Existing follow-ups get none: they read as before. Raw mail is encrypted
from now on; older rows (zlib alone) still read, so no row is rewritten here.

Revision ID: 0008_mail_parts
Revises: 0007_notice_structure
Create Date: 2026-11-29 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_mail_parts"
down_revision = "0007_notice_structure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_state", sa.String(length=10), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_follow_ups_review_state"), ["review_state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_review_state"))
        batch_op.drop_column("review_state")
