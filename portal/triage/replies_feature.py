"""Registers the replies, ledger and statistics half of triage: replies blueprint, dashboard and
ledger download, the public statistics block, `flask triage suggest` and `flask dev seed`."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup


def _group(app: Flask, name: str, help_text: str) -> AppGroup:
    """The CLI group ``name``, created when no other feature has registered it yet."""
    group = app.cli.commands.get(name)
    if not isinstance(group, AppGroup):
        group = AppGroup(name, help=help_text)
        app.cli.add_command(group)
    return group


def init_app(app: Flask) -> None:
    from portal.triage import reply_models, reply_views, stats_views  # noqa: F401 (tables)
    from portal.triage.seed import seed_command
    from portal.triage.suggest_cli import suggest_command

    reply_views.init_app(app)
    stats_views.init_app(app)
    _group(app, "triage", "Triage: digests, suggestions.").add_command(suggest_command)
    _group(app, "dev", "Development helpers.").add_command(seed_command)
