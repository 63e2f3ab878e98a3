"""row-level security: the office scope enforced by PostgreSQL too

Policies on submissions and mail_messages (by office_id) and on every table hanging off a
submission (through that submission; not the search index submission_search) read the setting
portal.office_ids that the app sets for each transaction of a staff request; unset, everything
stays visible (public pages, CLI, workers). ENABLE + FORCE: the table owner is subject too. No
row changes. SQLite has no row-level security: nothing happens there. See portal/staff/rls.py.

Revision ID: 0006_row_security
Revises: 0005_oversight
Create Date: 2026-11-29 14:00:00
"""

from alembic import op

revision = "0006_row_security"
down_revision = "0005_oversight"
branch_labels = None
depends_on = None

# Frozen copy of portal.staff.rls as of this revision (migrations never import application code
# that may change later).
POLICY = "portal_office_scope"
SETTING = "current_setting('portal.office_ids', true)"
UNSCOPED = f"(SELECT coalesce({SETTING}, '') IN ('', '*'))"
OFFICE_IDS = (
    f"CAST((SELECT CAST(string_to_array(nullif(nullif({SETTING}, ''), '*'), ',') AS integer[]))"
    " AS integer[])"
)
OFFICE_TABLES = ("submissions", "mail_messages")
SUBMISSION_TABLES = (
    ("submission_findings", False),
    ("follow_ups", False),
    ("attachments", False),
    ("status_changes", False),
    ("triage_notes", False),
    ("assignments", False),
    ("referrals", False),
    ("duplicate_links", False),
    ("replies", False),
    ("outbox", True),
)


def _rules() -> dict[str, str]:
    rules = {t: f"({UNSCOPED} OR office_id = ANY ({OFFICE_IDS}))" for t in OFFICE_TABLES}
    for table, nullable in SUBMISSION_TABLES:
        visible = f"EXISTS (SELECT 1 FROM submissions s WHERE s.id = {table}.submission_id)"  # noqa: S608
        if nullable:
            visible = f"({table}.submission_id IS NULL OR {visible})"
        rules[table] = f"({UNSCOPED} OR {visible})"
    return rules


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, rule in _rules().items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"CREATE POLICY {POLICY} ON {table} FOR ALL USING {rule} WITH CHECK {rule}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _rules():
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
