"""case loop: placeholder for issue #17 — replace or remove

Revision ID: 0012_case_loop
Revises: 0011_routing
Create Date: 2026-11-29 05:00:00
"""

revision = "0012_case_loop"
down_revision = "0011_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
