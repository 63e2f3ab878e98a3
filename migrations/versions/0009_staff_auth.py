"""staff authentication (issue #19): recovery codes as rows, per-network login throttling,
enrolment links, WebAuthn credentials, server-side session values

Recovery codes move from the JSON list on users to one row each, so that a code is consumed
by a compare-and-set UPDATE; the hashes already stored are kept (as unused rows).

Revision ID: 0009_staff_auth
Revises: 0008_mail_parts
Create Date: 2026-11-29 04:20:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0009_staff_auth"
down_revision = "0008_mail_parts"
branch_labels = None
depends_on = None


def _user_fk() -> sa.Column:
    return sa.Column(
        "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    recovery = op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        _user_fk(),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    op.create_table(
        "login_networks",
        sa.Column("id", sa.Integer(), primary_key=True),
        _user_fk(),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("user_id", "network"),
    )
    op.create_index("ix_login_networks_user_id", "login_networks", ["user_id"])
    op.create_table(
        "enrolment_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        _user_fk(),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_enrolment_links_user_id", "enrolment_links", ["user_id"])
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.Integer(), primary_key=True),
        _user_fk(),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_webauthn_credentials_user_id", "webauthn_credentials", ["user_id"])
    op.create_table(
        "session_values",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_session_values_expires_at", "session_values", ["expires_at"])

    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("recovery_codes", sa.JSON()))
    rows = []
    for user_id, codes in conn.execute(sa.select(users.c.id, users.c.recovery_codes)):
        if isinstance(codes, str):
            codes = json.loads(codes)
        rows += [{"user_id": user_id, "code_hash": h, "used_at": None} for h in codes or []]
    if rows:
        conn.execute(recovery.insert(), rows)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("recovery_codes")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("recovery_codes", sa.JSON(), nullable=False, server_default="[]")
        )
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("recovery_codes", sa.JSON()))
    recovery = sa.table(
        "recovery_codes",
        sa.column("user_id", sa.Integer()),
        sa.column("code_hash", sa.String()),
        sa.column("used_at", sa.DateTime(timezone=True)),
        sa.column("id", sa.Integer()),
    )
    unused: dict[int, list[str]] = {}
    for user_id, code_hash in conn.execute(
        sa.select(recovery.c.user_id, recovery.c.code_hash)
        .where(recovery.c.used_at.is_(None))
        .order_by(recovery.c.id)
    ):
        unused.setdefault(user_id, []).append(code_hash)
    for user_id, hashes in unused.items():
        conn.execute(users.update().where(users.c.id == user_id).values(recovery_codes=hashes))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("recovery_codes", server_default=None)
    for table in (
        "session_values",
        "webauthn_credentials",
        "enrolment_links",
        "login_networks",
        "recovery_codes",
    ):
        op.drop_table(table)
