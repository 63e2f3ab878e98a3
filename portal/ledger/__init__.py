"""Ledger (台账): export (CSV/XLSX/JSON), statistics, charts, the dashboard and ledger download,
the public statistics block of the notice page, and `flask submissions export`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.intake.cli import submissions_cli
    from portal.ledger.cli import export_command
    from portal.ledger.views import bp, notice_public_stats

    app.register_blueprint(bp)
    app.add_template_global(notice_public_stats, "notice_public_stats")
    submissions_cli.add_command(export_command)
