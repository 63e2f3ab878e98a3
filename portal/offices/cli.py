"""`flask offices …` and `flask rounds …`: the units a deployment serves and its rounds."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.offices.service import OfficeError, all_offices, create_office, create_round

offices_cli = AppGroup("offices", help="Offices (被巡察单位).")
rounds_cli = AppGroup("rounds", help="Inspection rounds (巡察轮次).")


def _fail(exc: Exception) -> None:
    db.session.rollback()
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@offices_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Full name, e.g. 东莞市人民检察院.")
@click.option("--short", "short_name", default="", help="Short name for lists.")
def create_office_command(slug: str, name: str, short_name: str) -> None:
    """Create an office; prints its slug."""
    try:
        office = create_office(slug, name=name, short_name=short_name, actor="cli")
    except OfficeError as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(office.slug)


@offices_cli.command("list")
def list_offices_command() -> None:
    """One office a line: slug, name, short name, "default" for the default office."""
    offices = all_offices()
    db.session.commit()  # the default office may just have been created
    for office in offices:
        mark = "default" if office.is_default else ""
        click.echo(f"{office.slug}\t{office.name}\t{office.short_name}\t{mark}".rstrip("\t"))


@rounds_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="e.g. 十五届市委第五轮巡察.")
@click.option("--group", "inspection_group", default=None, help="The inspection group.")
@click.option("--starts", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--ends", type=click.DateTime(["%Y-%m-%d"]), default=None)
def create_round_command(
    slug: str, name: str, inspection_group: str | None, starts: object, ends: object
) -> None:
    """Create an inspection round; prints its slug."""
    try:
        found = create_round(
            slug,
            name=name,
            inspection_group=inspection_group,
            starts_on=_day(starts),
            ends_on=_day(ends),
            actor="cli",
        )
    except OfficeError as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(found.slug)


def _day(value: object) -> date | None:
    return value.date() if hasattr(value, "date") else None  # click gives a datetime
