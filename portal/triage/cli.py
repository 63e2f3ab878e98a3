"""`flask triage digest` (the assignees' daily mail) and `flask triage suggest`.

`suggest --notice SLUG [TEXT]`: with TEXT one JSON array [{number, title, score}], best first
([] when nothing is relevant); without TEXT one text per line on stdin and one array per line on
stdout, in the same order, so a mail filter can pipe thousands of comments through one process.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import db
from portal.notices.models import Notice
from portal.triage import deadlines
from portal.triage.findings import router_for
from portal.triage.routing import Router

SCORE_DIGITS = 4

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


def suggestions_json(router: Router, text: str) -> str:
    items = [
        {"number": s.number, "title": s.title, "score": round(s.score, SCORE_DIGITS)}
        for s in router.suggest(text)
    ]
    return json.dumps(items, ensure_ascii=False)


@triage_cli.command("suggest")
@click.option("--notice", "slug", required=True, help="Slug of the notice whose findings rank.")
@click.argument("text", required=False)
def suggest_command(slug: str, text: str | None) -> None:
    """Suggest findings for TEXT, or for each line of stdin when TEXT is left out."""
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    if notice is None:
        raise click.ClickException(f"没有名为 {slug} 的公示。")
    router = router_for(notice)
    if text is not None:
        click.echo(suggestions_json(router, text))
        return
    for line in sys.stdin:
        # Every input line gets exactly one output line, blank lines included ([]).
        click.echo(suggestions_json(router, line.rstrip("\r\n")))
