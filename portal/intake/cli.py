"""`flask submissions show` (and `purge`, from retention; `export` is added by the ledger)."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from portal.intake.contract import as_dict
from portal.intake.retention import purge_command
from portal.intake.service import find_by_code

submissions_cli = AppGroup("submissions", help="Submissions from every channel.")
submissions_cli.add_command(purge_command)


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
