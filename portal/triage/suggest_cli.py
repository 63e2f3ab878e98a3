"""`flask triage suggest --notice SLUG [TEXT]`: which findings a text concerns, as JSON.

With TEXT: one JSON array [{number, title, score}], best first ([] when nothing is relevant).
Without TEXT: one text per line on stdin, one array per line on stdout, in the same order, so
a mail filter or a notebook can pipe thousands of comments through one process.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from portal.extensions import db
from portal.notices.models import Notice
from portal.triage.actions import router_for
from portal.triage.routing import Router

SCORE_DIGITS = 4


def suggestions_json(router: Router, text: str) -> str:
    items = [
        {"number": s.number, "title": s.title, "score": round(s.score, SCORE_DIGITS)}
        for s in router.suggest(text)
    ]
    return json.dumps(items, ensure_ascii=False)


@click.command("suggest")
@with_appcontext
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
