"""Offices (被巡察单位) and rounds (巡察轮次): who publishes notices and answers opinions.

One deployment serves the city's inspection office and every unit it inspects; every notice,
submission and inbound mail belongs to one office (a submission may wait, unrouted, for the
inspection office to route it).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.offices import models  # noqa: F401  (registers the tables)
    from portal.offices.cli import offices_cli, rounds_cli

    app.cli.add_command(offices_cli)
    app.cli.add_command(rounds_cli)
