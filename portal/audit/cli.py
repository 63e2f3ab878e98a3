"""`flask audit verify` and `flask audit anchor`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from portal.audit.anchors import ChainBroken, anchor, parse_anchor
from portal.audit.chain import verify
from portal.extensions import db

# An AppGroup, so its commands run inside an app context (also under test_cli_runner()).
audit_cli = AppGroup("audit", help="Tamper-evident audit log.")


def _anchors(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list:
    try:
        return [parse_anchor(value) for value in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@audit_cli.command("verify", help="Check the chain; exit 1 naming the first broken event.")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    callback=_anchors,
    metavar="SEQ:HASH",
    help="An anchor kept outside the database (`flask audit anchor` printed it); repeatable.",
)
def verify_command(anchors: list[tuple[int, str]]) -> None:
    result = verify(anchors)
    if result.ok:
        suffix = f", {result.anchors} anchors match" if result.anchors else ""
        click.echo(f"ok: {result.count} events, chain intact{suffix}")
        return
    click.echo(
        f"BROKEN at event {result.broken_seq}: {result.reason} ({result.count} events verified)",
        err=True,
    )
    sys.exit(1)


@audit_cli.command("anchor", help="Record and print the head hash (mailed if configured).")
def anchor_command() -> None:
    try:
        done = anchor()
    except ChainBroken as exc:
        db.session.rollback()
        click.echo(f"审计日志校验未通过，未记录锚点：{exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"anchor {done.line}")
    where = f"，并已排队发送至 {done.mailed_to}" if done.mailed_to else ""
    click.echo(f"请将上面一行保存在数据库之外{where}。", err=True)
