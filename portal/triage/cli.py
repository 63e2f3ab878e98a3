"""`flask triage digest` (daily mail), `flask triage suggest` and `flask triage reindex`.

`suggest --notice SLUG [TEXT]`: with TEXT one JSON array [{number, title, score}], best first
([] when nothing is relevant); without TEXT one text per line on stdin and one array per line on
stdout, in the same order, so a mail filter can pipe thousands of comments through one process.

`suggest --round SLUG [TEXT]`: the same over every published notice of a round, answering
[{office, notice, number, title, score}] (office and notice are slugs), best first across the
round's notices. Exactly one of --notice and --round.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import db
from portal.notices.models import Notice
from portal.offices.service import OfficeError, round_or_error
from portal.triage import deadlines, office_guess
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


RoundRouters = list[tuple[Notice, Router]]


def round_suggestions_json(routers: RoundRouters, text: str, limit: int = 3) -> str:
    """The best findings across a round's notices, each notice's own threshold applied."""
    found = office_guess.candidates(text, routers, floor=None, concepts=True)[:limit]
    items = [
        {
            "office": c.office.slug,
            "notice": c.notice.slug,
            "number": c.number,
            "title": c.title,
            "score": round(c.score, SCORE_DIGITS),
        }
        for c in found
    ]
    return json.dumps(items, ensure_ascii=False)


def _round_routers(slug: str) -> RoundRouters:
    try:
        found = round_or_error(slug)
    except OfficeError as exc:
        raise click.ClickException(str(exc)) from exc
    assert found is not None  # a slug was given
    notices = office_guess.round_notices(found.id)
    if not notices:
        raise click.ClickException(f"巡察轮次 {found.slug} 还没有已发布的公示。")
    return office_guess.routers_of(notices)


def _round_answer(slug: str) -> Callable[[str], str]:
    routers = _round_routers(slug)
    return lambda text: round_suggestions_json(routers, text)


def _notice_answer(slug: str) -> Callable[[str], str]:
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    if notice is None:
        raise click.ClickException(f"没有名为 {slug} 的公示。")
    router = router_for(notice)
    return lambda text: suggestions_json(router, text)


@triage_cli.command("suggest")
@click.option("--notice", "slug", help="Slug of the notice whose findings rank.")
@click.option("--round", "round_slug", help="Slug of a round: rank every published notice of it.")
@click.argument("text", required=False)
def suggest_command(slug: str | None, round_slug: str | None, text: str | None) -> None:
    """Suggest findings for TEXT, or for each line of stdin when TEXT is left out."""
    if (slug is None) == (round_slug is None):
        raise click.UsageError("请给出 --notice 或 --round 之一（且只给一个）。")
    answer = _round_answer(round_slug) if round_slug is not None else _notice_answer(slug or "")
    if text is not None:
        click.echo(answer(text))
        return
    for line in sys.stdin:
        # Every input line gets exactly one output line, blank lines included ([]).
        click.echo(answer(line.rstrip("\r\n")))


@triage_cli.command("reindex")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True)
def reindex_command(batch: int) -> None:
    """Rebuild every submission's search row (after a restore, or a change to what is indexed).

    One transaction per batch: a stopped run keeps what it did and can simply be run again. A
    progress bar on a terminal; one summary line otherwise."""
    from portal.intake.models import Submission
    from portal.progress import progress
    from portal.triage.search import reindex

    ids = list(db.session.scalars(select(Submission.id).order_by(Submission.id)))
    with progress(len(ids), "重建检索索引") as advance:
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            for submission_id in chunk:
                reindex(submission_id)
            db.session.commit()
            advance(len(chunk))
    click.echo(f"reindexed {len(ids)} submissions")
