"""a mailed submission's raw message is kept once, in its mail_messages row

submissions.raw_message held a second copy of the bytes every recorded mail also keeps in
mail_messages.raw. The upgrade gives each submission whose copy exists only in
submissions.raw_message a mail_messages row of its own (outcome recorded), then drops the
column; the downgrade adds it back and fills it from the mail_messages rows.

Revision ID: 0003_mail_raw_once
Revises: 0002_outbox_code
Create Date: 2026-11-29 10:00:00
"""

import hashlib
import zlib

import sqlalchemy as sa
from alembic import op

revision = "0003_mail_raw_once"
down_revision = "0002_outbox_code"
branch_labels = None
depends_on = None

# Frozen shapes of the two tables as of this revision (migrations never import the models).
submissions = sa.table(
    "submissions",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("message_id", sa.String),
    sa.column("dedupe_key", sa.String),
    sa.column("sender_email", sa.Text),  # Fernet token, same key as mail_messages.sender
    sa.column("sender_hash", sa.String),
    sa.column("subject", sa.String),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("raw_message", sa.LargeBinary),
)
mail_messages = sa.table(
    "mail_messages",
    sa.column("id", sa.Integer),
    sa.column("message_id", sa.String),
    sa.column("dedupe_key", sa.String),
    sa.column("sha256", sa.String),
    sa.column("raw", sa.LargeBinary),
    sa.column("size", sa.Integer),
    sa.column("source", sa.String),
    sa.column("outcome", sa.String),
    sa.column("code", sa.String),
    sa.column("submission_id", sa.Integer),
    sa.column("sender", sa.Text),
    sa.column("sender_hash", sa.String),
    sa.column("subject", sa.String),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("release_state", sa.String),
)


def _own_copy(submission_id: sa.ColumnElement[int]) -> sa.Exists:
    """The submission's own mail record with its bytes (a threaded row belongs to a follow-up)."""
    return (
        sa.select(mail_messages.c.id)
        .where(
            mail_messages.c.submission_id == submission_id,
            mail_messages.c.outcome != "threaded",
            mail_messages.c.raw.is_not(None),
        )
        .exists()
    )


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    conn = op.get_bind()
    orphans = conn.execute(
        sa.select(submissions).where(
            submissions.c.raw_message.is_not(None), ~_own_copy(submissions.c.id)
        )
    ).all()
    for row in orphans:
        stored = bytes(row.raw_message)
        try:
            raw = zlib.decompress(stored)
        except zlib.error:
            raw = stored  # not what the application wrote; kept as it is
        sha = hashlib.sha256(raw).hexdigest()
        key = row.message_id or row.dedupe_key or "sha256:" + sha
        conn.execute(
            mail_messages.insert().values(
                message_id=row.message_id,
                dedupe_key=key if len(key) <= 200 else _digest(key),
                sha256=sha,
                raw=stored,
                size=len(raw),
                source="migration",
                outcome="recorded",
                code=row.code,
                submission_id=row.id,
                sender=row.sender_email,
                sender_hash=row.sender_hash,
                subject=row.subject,
                received_at=row.received_at,
                release_state="none",
            )
        )
    # A native DROP COLUMN (SQLite 3.35+, PostgreSQL): no copy of the table, which is large.
    op.drop_column("submissions", "raw_message")


def downgrade() -> None:
    op.add_column("submissions", sa.Column("raw_message", sa.LargeBinary(), nullable=True))
    first_copy = (
        sa.select(mail_messages.c.raw)
        .where(
            mail_messages.c.submission_id == submissions.c.id,
            mail_messages.c.outcome != "threaded",
            mail_messages.c.raw.is_not(None),
        )
        .order_by(mail_messages.c.id)
        .limit(1)
        .scalar_subquery()
    )
    op.execute(
        submissions.update().where(_own_copy(submissions.c.id)).values(raw_message=first_copy)
    )
