"""many offices: offices, rounds and per-office memberships

Every notice, submission and inbound mail now belongs to an office. The upgrade creates the
default office from the OFFICE_* settings (the identity a one-office deployment had) and gives
it every existing notice, submission and mail; each editor, triager and viewer keeps that
role in the default office (users.role becomes "staff", the role moves to memberships). The
downgrade puts each user's strongest office role back into users.role and drops the rest.

Revision ID: 0004_offices
Revises: 0003_mail_raw_once
Create Date: 2026-11-29 01:00:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

revision = "0004_offices"
down_revision = "0003_mail_raw_once"
branch_labels = None
depends_on = None

OFFICE_ROLES = ("editor", "triager", "viewer")  # strongest first (for the downgrade)

offices = sa.table(
    "offices",
    sa.column("id", sa.Integer),
    sa.column("slug", sa.String),
    sa.column("name", sa.String),
    sa.column("short_name", sa.String),
    sa.column("is_default", sa.Boolean),
    sa.column("active", sa.Boolean),
    sa.column("contact_address", sa.String),
    sa.column("contact_postcode", sa.String),
    sa.column("return_address", sa.String),
    sa.column("return_postcode", sa.String),
    sa.column("mail_addresses", sa.Text),
    sa.column("imap_ssl", sa.Boolean),
    sa.column("imap_starttls", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _default_office_row() -> dict:
    config = current_app.config if has_app_context() else {}
    address = config.get("OFFICE_ADDRESS") or None
    postcode = config.get("OFFICE_POSTCODE") or None
    return {
        "slug": config.get("OFFICE_SLUG") or "main",
        "name": config.get("OFFICE_NAME") or "巡察整改办公室",
        "short_name": config.get("OFFICE_SHORT_NAME") or "",
        "is_default": True,
        "active": True,
        "contact_address": address,
        "contact_postcode": postcode,
        "return_address": address,
        "return_postcode": postcode,
        "mail_addresses": "",
        "imap_ssl": True,
        "imap_starttls": False,
        "created_at": datetime.now(UTC),
    }


def upgrade() -> None:
    op.create_table(
        "offices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=60), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("contact_phone", sa.String(length=80), nullable=True),
        sa.Column("contact_email", sa.String(length=200), nullable=True),
        sa.Column("contact_address", sa.String(length=300), nullable=True),
        sa.Column("contact_postcode", sa.String(length=12), nullable=True),
        sa.Column("letterhead", sa.String(length=200), nullable=True),
        sa.Column("return_address", sa.String(length=300), nullable=True),
        sa.Column("return_postcode", sa.String(length=12), nullable=True),
        sa.Column("mail_addresses", sa.Text(), nullable=False),
        sa.Column("imap_host", sa.String(length=255), nullable=True),
        sa.Column("imap_port", sa.Integer(), nullable=True),
        sa.Column("imap_user", sa.String(length=255), nullable=True),
        sa.Column("imap_password", sa.Text(), nullable=True),
        sa.Column("imap_folder", sa.String(length=255), nullable=True),
        sa.Column("imap_ssl", sa.Boolean(), nullable=False),
        sa.Column("imap_starttls", sa.Boolean(), nullable=False),
        sa.Column("imap_move_to", sa.String(length=255), nullable=True),
        sa.Column("ack_within_workdays", sa.Integer(), nullable=True),
        sa.Column("reply_within_workdays", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offices")),
        sa.UniqueConstraint("slug", name=op.f("uq_offices_slug")),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("inspection_group", sa.String(length=200), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
        sa.UniqueConstraint("slug", name=op.f("uq_rounds_slug")),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_memberships_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("user_id", "office_id", name=op.f("uq_memberships_user_id")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_office_id"), ["office_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("office_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_mail_messages_office_id"), ["office_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_mail_messages_office_id_offices"), "offices", ["office_id"], ["id"]
        )

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("office_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("round_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_notices_office_id"), ["office_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_round_id"), ["round_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_notices_office_id_offices"), "offices", ["office_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notices_round_id_rounds"),
            "rounds",
            ["round_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("office_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_submissions_office_due", ["office_id", "reply_due_on", "id"], unique=False
        )
        batch_op.create_index(
            "ix_submissions_office_received", ["office_id", "received_at", "id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_submissions_office_id_offices"), "offices", ["office_id"], ["id"]
        )

    bind = op.get_bind()
    bind.execute(offices.insert().values(**_default_office_row()))
    default_id = bind.execute(sa.select(offices.c.id).where(offices.c.is_default)).scalar_one()
    for table in ("notices", "submissions", "mail_messages"):
        rows = sa.table(table, sa.column("office_id", sa.Integer))
        bind.execute(rows.update().values(office_id=default_id))
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.alter_column("office_id", existing_type=sa.Integer(), nullable=False)
    op.execute(
        sa.text(
            "INSERT INTO memberships (user_id, office_id, role, created_at) "
            "SELECT id, :office, role, :now FROM users "
            "WHERE role IN ('editor', 'triager', 'viewer')"
        ).bindparams(office=default_id, now=datetime.now(UTC))
    )
    op.execute("UPDATE users SET role = 'staff' WHERE role IN ('editor', 'triager', 'viewer')")


def downgrade() -> None:
    # Each office member's strongest role comes back to users.role; supervisors had no
    # equivalent before and become viewers.
    for role in reversed(OFFICE_ROLES):
        op.execute(
            sa.text(
                "UPDATE users SET role = :role WHERE role = 'staff' AND id IN "
                "(SELECT user_id FROM memberships WHERE role = :role)"
            ).bindparams(role=role)
        )
    op.execute("UPDATE users SET role = 'viewer' WHERE role IN ('staff', 'supervisor')")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_submissions_office_id_offices"), type_="foreignkey")
        batch_op.drop_index("ix_submissions_office_received")
        batch_op.drop_index("ix_submissions_office_due")
        batch_op.drop_column("office_id")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notices_round_id_rounds"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_notices_office_id_offices"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notices_round_id"))
        batch_op.drop_index(batch_op.f("ix_notices_office_id"))
        batch_op.drop_column("round_id")
        batch_op.drop_column("office_id")

    with op.batch_alter_table("mail_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_mail_messages_office_id_offices"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_mail_messages_office_id"))
        batch_op.drop_column("office_id")

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_office_id"))

    op.drop_table("memberships")
    op.drop_table("rounds")
    op.drop_table("offices")
