"""`flask submissions export`: every submission as CSV, XLSX or JSON (the JSON objects are the
ones `flask submissions show --json` prints); `flask oversight refresh`: the supervisor's
figures."""

from __future__ import annotations

import sys
import time
from datetime import datetime

import click
from flask.cli import with_appcontext

from portal import audit
from portal.extensions import db
from portal.ledger.export import (
    Format,
    UnknownNotice,
    UnknownOffice,
    count_rows,
    export_submissions,
)
from portal.ledger.oversight import refresh_figures, refresh_lease
from portal.progress import on_terminal, progress


@click.command("export")
@with_appcontext
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "xlsx"]),
    default="json",
    show_default=True,
)
@click.option("--notice", "notice_slug", help="Only submissions on this notice (slug).")
@click.option(
    "--office", "office_slug", help="Only submissions this office answers (slug); default: all."
)
@click.option(
    "--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Received on or after."
)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Received on or before.")
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True), help="File (default stdout)."
)
def export_command(
    fmt: Format,  # click.Choice admits only these values
    notice_slug: str | None,
    office_slug: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    output: str | None,
) -> None:
    """Every submission whatever its status (held and spam included); dates are local days.
    Without --office, every office's and the unrouted ones: the CLI is the operator's."""
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    day_from = date_from.date() if date_from else None
    day_to = date_to.date() if date_to else None
    try:
        # The bar goes to stderr and only on a terminal: stdout may be the export itself.
        total = (
            count_rows(
                notice_slug=notice_slug, office_slug=office_slug, date_from=day_from, date_to=day_to
            )
            if on_terminal()
            else 0
        )
        with progress(total, "导出台账") as advance:
            rows = export_submissions(
                fmt,
                out,
                notice_slug=notice_slug,
                office_slug=office_slug,
                date_from=day_from,
                date_to=day_to,
                tick=advance,
            )
    except (UnknownNotice, UnknownOffice) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        out.flush()
        if output:
            out.close()
    # Every export of personal data is on the record, the operator's as the web one.
    audit.record(
        "ledger.export",
        details={
            "channel": "cli",
            "format": fmt,
            "notice": notice_slug,
            "office": office_slug,
            "from": day_from.isoformat() if day_from else None,
            "to": day_to.isoformat() if day_to else None,
            "rows": rows,
        },
    )
    db.session.commit()


oversight_cli = click.Group("oversight", help="The supervisor's figures per office and round.")


@oversight_cli.command("refresh")
@with_appcontext
def refresh_command() -> None:
    """Recompute the oversight figures (run from cron more often than OVERSIGHT_MAX_AGE).

    Prints the rows written and the seconds taken; when another worker is recomputing, says so
    and exits 0 without computing."""
    started = time.perf_counter()
    with refresh_lease() as mine:
        if not mine:
            click.echo("另一进程正在计算督查数据，本次跳过。")
            return
        rows = refresh_figures()
    click.echo(f"refreshed {rows} rows in {time.perf_counter() - started:.2f} s")
