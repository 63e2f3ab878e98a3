"""`flask dev seed --submissions N`: many realistic submissions, fast, for demos and benchmarks."""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable

import click
from flask.cli import AppGroup
from sqlalchemy import select

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


@dev_cli.command("seed")
@click.option("--submissions", "n", type=click.IntRange(min=1), required=True, help="How many.")
@click.option("--notice", "slug", help="Notice slug (default: the newest published notice).")
@click.option("--seed", "seed", type=int, help="Random seed, for a repeatable data set.")
@click.option("--batch-size", type=click.IntRange(min=100), default=10_000, show_default=True)
def seed_command(n: int, slug: str | None, seed: int | None, batch_size: int) -> None:
    """Insert N realistic fake submissions FAST (COPY / executemany).

    Bypasses record_submission on purpose: no validation, no acknowledgement mail and no audit
    event per row. For development and benchmarks only, never on a production database.
    """
    notice = _notice_for(slug)
    started = clock.monotonic()
    count = seed_submissions(
        n,
        notice,
        batch_size=batch_size,
        rng=random.Random(seed),
        progress=_batches_done(n, started),
    )
    click.echo(f"seeded {count} submissions on {notice.slug} in {clock.monotonic() - started:.1f}s")
