"""`flask submissions export`: every submission as CSV, XLSX or JSON (the JSON objects are the
ones `flask submissions show --json` prints)."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import with_appcontext

from portal.ledger.export import Format, UnknownNotice, export_submissions


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
    "--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Received on or after."
)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Received on or before.")
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True), help="File (default stdout)."
)
def export_command(
    fmt: Format,  # click.Choice admits only these values
    notice_slug: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    output: str | None,
) -> None:
    """Every submission whatever its status (held and spam included); dates are local days."""
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        export_submissions(
            fmt,
            out,
            notice_slug=notice_slug,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
        )
    except UnknownNotice as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        out.flush()
        if output:
            out.close()
