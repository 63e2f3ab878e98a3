"""`flask triage digest`: the assignees' daily mail (the replies feature adds `suggest`)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from portal.triage import deadlines

triage_cli = AppGroup("triage", help="Triage: digests, suggestions.")


@triage_cli.command("digest")
@click.option("--date", "day", help="Local date to report on (YYYY-MM-DD); default today.")
@click.option("--force", is_flag=True, help="Send again to users who had today's digest.")
def digest(day: str | None, force: bool) -> None:
    """Enqueue one mail per assignee listing open, due-soon and overdue submissions."""
    try:
        today = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint="--date") from exc
    sent = deadlines.send_digests(today, force=force)
    for item in sent:
        click.echo(
            f"queued {item.user.email} overdue={len(item.overdue)} "
            f"due_soon={len(item.due_soon)} open={len(item.open)}"
        )
    click.echo(f"{len(sent)} digest(s) queued")
