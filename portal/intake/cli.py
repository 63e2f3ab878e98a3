"""`flask submissions show|export`: one submission, or all of them (export: triage/export.py)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup

from portal.intake.models import Submission
from portal.intake.service import find_by_code
from portal.workdays import as_utc

submissions_cli = AppGroup("submissions", help="Submissions from every channel.")


def iso_utc(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def as_dict(submission: Submission) -> dict[str, Any]:
    """The object `show --json` prints (a contract: DESIGN.md)."""
    return {
        "code": submission.code,
        "channel": submission.channel,
        "status": submission.status,
        "subject": submission.subject,
        "body": submission.body,
        "sender_email": submission.sender_email,
        "received_at": iso_utc(submission.received_at),
        "findings": submission.finding_numbers,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in submission.attachments
        ],
    }


@submissions_cli.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON object.")
def show_command(code: str, as_json: bool) -> None:
    """Show the submission with receipt code CODE (any case, hyphen optional)."""
    submission = find_by_code(code)
    if submission is None:
        click.echo(f"未找到回执码为 {code} 的意见。", err=True)
        sys.exit(1)
    data = as_dict(submission)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{data['code']}  {data['channel']}  {data['status']}  {data['received_at']}")
    if data["subject"]:
        click.echo(f"主题：{data['subject']}")
    if data["findings"]:
        click.echo("关联问题：" + "、".join(map(str, data["findings"])))
    for item in data["attachments"]:
        click.echo(f"附件：{item['filename']} ({item['content_type']}, {item['size']} 字节)")
    click.echo("")
    click.echo(data["body"])


@submissions_cli.command("export")
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
    fmt: str,
    notice_slug: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    output: str | None,
) -> None:
    """Every submission whatever its status (held and spam included); dates are local days."""
    from portal.triage.export import UnknownNotice, export_submissions

    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        export_submissions(
            fmt,  # type: ignore[arg-type]
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
