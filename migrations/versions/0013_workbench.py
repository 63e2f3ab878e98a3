"""staff workbench: placeholder for issue #18 — replace or remove

Revision ID: 0013_workbench
Revises: 0012_case_loop
Create Date: 2026-11-29 05:00:00
"""

revision = "0013_workbench"
down_revision = "0012_case_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
