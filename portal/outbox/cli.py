"""`flask outbox send|list`: deliver due mail, and see what is waiting."""

from __future__ import annotations

import json
import time

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import db
from portal.outbox.models import STATUSES, OutboxMessage
from portal.outbox.send import BATCH, LOOPBACK_HELD, send_due

outbox_cli = AppGroup("outbox", help="Outgoing mail.")


def _send_all() -> tuple[int, int, int]:
    sent = failed = dead = 0
    while True:
        report = send_due(BATCH)
        sent, failed, dead = sent + report.sent, failed + report.failed, dead + report.dead
        for error in report.errors:
            click.echo(f"failed {error}", err=True)
        if report.held:
            click.echo(f"held {report.held}: {LOOPBACK_HELD}", err=True)
        # Stop when nothing was claimed or the server is failing (the rest waits for backoff).
        if report.claimed < BATCH or report.sent == 0:
            return sent, failed, dead


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running, polling the outbox.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between polls.")
def send_command(loop: bool, interval: float) -> None:
    """Deliver the mail that is due; print how many were sent, failed and dead."""
    while True:
        sent, failed, dead = _send_all()
        click.echo(f"sent {sent}, failed {failed}, dead {dead}")
        db.session.remove()
        if not loop:
            return
        time.sleep(interval)


@outbox_cli.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="JSON array of {to, subject, status, submission_code}."
)
@click.option("--status", type=click.Choice(STATUSES), help="Only rows with this status.")
def list_command(as_json: bool, status: str | None) -> None:
    """Every outbox message, oldest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if status:
        query = query.where(OutboxMessage.status == status)
    rows = [
        {
            "to": row.to,
            "subject": row.subject,
            "status": row.status,
            "submission_code": row.submission_code,
        }
        for row in db.session.scalars(query)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['status']:8} {row['submission_code'] or '-':11} {row['to']}  {row['subject']}"
        )
