"""`flask dev seed`: many offices, notices and realistic submissions, fast, for demos and
benchmarks."""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.devtools.offices import build_estate
from portal.devtools.seed import seed_submissions
from portal.extensions import db
from portal.notices.models import Notice

dev_cli = AppGroup("dev", help="Development helpers (debug mode and tests only).")


def _batches_done(total: int, started: float) -> Callable[[int], None]:
    def report(done: int) -> None:
        rate = done / max(clock.monotonic() - started, 1e-6)
        click.echo(f"  {done}/{total} ({rate:,.0f} rows/s)", err=True)

    return report


def _notice_for(slug: str | None) -> Notice:
    stmt = select(Notice)
    stmt = (
        stmt.where(Notice.slug == slug)
        if slug
        else stmt.order_by(Notice.state != "published", Notice.id.desc())
    )
    notice = db.session.scalars(stmt.limit(1)).first()
    if notice is None:
        raise click.ClickException(
            f"没有名为 {slug} 的公示。" if slug else "还没有公示：请先 flask notices import。"
        )
    return notice


def _published_notices() -> list[Notice]:
    return list(
        db.session.scalars(select(Notice).where(Notice.state == "published").order_by(Notice.id))
    )


def _seed_estate(offices: int, notices: int, rng: random.Random) -> None:
    started = clock.monotonic()
    estate = build_estate(
        offices, notices, rng=rng, progress=_batches_done(notices, started) if notices else None
    )
    click.echo(
        f"offices {len(estate.offices)}, rounds {len(estate.rounds)}, "
        f"new notices {len(estate.notices)} in {clock.monotonic() - started:.1f}s"
    )


@dev_cli.command("seed")
@click.option("--submissions", "n", type=click.IntRange(min=0), default=0, help="How many.")
@click.option("--offices", type=click.IntRange(min=1), help="Make sure there are N offices.")
@click.option(
    "--notices",
    type=click.IntRange(min=0),
    help="Publish M new notices spread over the offices and a few rounds.",
)
@click.option("--notice", "slug", help="Only this notice (default: the newest published one).")
@click.option("--seed", "seed", type=int, help="Random seed, for a repeatable data set.")
@click.option("--batch-size", type=click.IntRange(min=100), default=10_000, show_default=True)
def seed_command(
    n: int,
    offices: int | None,
    notices: int | None,
    slug: str | None,
    seed: int | None,
    batch_size: int,
) -> None:
    """Insert offices, notices and N realistic fake submissions FAST (COPY / executemany).

    With --offices or --notices the submissions are spread over every published notice, busy
    offices getting many more than quiet ones; otherwise they all go to one notice.
    Bypasses record_submission on purpose: no validation, no acknowledgement mail and no audit
    event per row. For development and benchmarks only, never on a production database.
    """
    rng = random.Random(seed)
    spread = offices is not None or notices is not None
    if spread:
        _seed_estate(offices or 1, notices or 0, rng)
    if not n:
        return
    targets = [_notice_for(slug)] if slug or not spread else _published_notices()
    if not targets:
        raise click.ClickException("还没有已发布的公示：请先 flask notices import。")
    started = clock.monotonic()
    count = seed_submissions(
        n, targets, batch_size=batch_size, rng=rng, progress=_batches_done(n, started)
    )
    seconds = clock.monotonic() - started
    where = targets[0].slug if len(targets) == 1 else f"{len(targets)} notices"
    click.echo(
        f"seeded {count} submissions on {where} in {seconds:.1f}s ({count / seconds:,.0f} rows/s)"
    )
