"""`flask notices …`: import, list, publish and withdraw notices from the shell."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal.extensions import db
from portal.notices.models import Notice
from portal.notices.parse import NoticeFormatError, NoticeParseError, extract_text
from portal.notices.service import (
    get_by_slug,
    import_notice,
    publish_notice,
    withdraw_notice,
)
from portal.offices.service import OfficeError, office_or_error, round_or_error

notices_cli = AppGroup("notices", help="Rectification notices.")


def _read_source(path: str) -> tuple[str, str | None]:
    """The notice's text from a .txt, .docx, PDF or saved web page (or standard input)."""
    if path == "-":
        return extract_text(sys.stdin.buffer.read()), None
    return extract_text(Path(path).read_bytes(), Path(path).name), Path(path).stem


@notices_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--slug", help="URL name; default: from the file name.")
@click.option("--office", "office_slug", help="The office that publishes it (default office).")
@click.option("--round", "round_slug", help="The inspection round it answers.")
@click.option("--publish", is_flag=True, help="Publish at once (only when there is no warning).")
@click.option("--if-empty", is_flag=True, help="Do nothing when any notice exists (for make run).")
@click.option("--note", help="Change note of a revision (修订说明), shown on the public page.")
def import_command(
    file: str,
    slug: str | None,
    office_slug: str | None,
    round_slug: str | None,
    publish: bool,
    if_empty: bool,
    note: str | None,
) -> None:
    """Import FILE (.txt in UTF-8 or GB18030, .docx, PDF with a text layer, or the notice's saved
    web page) and print the notice's slug on the last line. A revision keeps the line roles an
    editor gave the earlier text in the preview."""
    if if_empty and db.session.scalar(select(func.count(Notice.id))):
        click.echo("a notice exists already; nothing imported", err=True)
        return
    try:
        text, stem = _read_source(file)
    except NoticeFormatError as exc:
        click.echo(f"导入失败：{exc}", err=True)
        sys.exit(1)
    try:
        office = office_or_error(office_slug)
        round_ = round_or_error(round_slug)
        result = import_notice(
            text,
            slug=slug,
            publish=publish,
            source_name=stem,
            office=office,
            round_=round_,
            note=note,
        )
    except OfficeError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except NoticeParseError as exc:
        db.session.rollback()
        click.echo(f"导入失败：{exc}", err=True)
        sys.exit(1)
    db.session.commit()
    notice = result.notice
    for warning in result.warnings:
        click.echo(f"警告：{warning.message}", err=True)
    if publish and result.warnings:
        click.echo("有警告，已保存为草稿，未发布。", err=True)
    click.echo(
        f"{'imported' if result.created else 'revised'} revision {result.revision.number}: "
        f"{len(notice.categories)} categories, {sum(f.active for f in notice.findings)} findings, "
        f"state {notice.state}",
        err=True,
    )
    click.echo(notice.slug)


@notices_cli.command("list")
def list_command() -> None:
    for notice in db.session.scalars(select(Notice).order_by(Notice.id)):
        click.echo(f"{notice.slug}\t{notice.state}\t{notice.signed_on or ''}\t{notice.title}")


def _notice_or_exit(slug: str) -> Notice:
    notice = get_by_slug(slug)
    if notice is None:
        click.echo(f"no notice with slug {slug!r}", err=True)
        sys.exit(1)
    return notice


@notices_cli.command("publish")
@click.argument("slug")
def publish_command(slug: str) -> None:
    publish_notice(_notice_or_exit(slug), actor="cli")
    db.session.commit()
    click.echo(slug)


@notices_cli.command("withdraw")
@click.argument("slug")
@click.option("--note", required=True, help="Short public note shown on the 410 page.")
def withdraw_command(slug: str, note: str) -> None:
    withdraw_notice(_notice_or_exit(slug), actor="cli", note=note)
    db.session.commit()
    click.echo(slug)
