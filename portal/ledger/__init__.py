"""Ledger (台账): export (CSV/XLSX/JSON), statistics, charts, the dashboard and ledger download,
the office and round reports (.docx), the supervisor's oversight pages and their snapshot, the
public statistics block of the notice page, `flask submissions export` and `flask oversight`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.intake.cli import submissions_cli
    from portal.ledger import models  # noqa: F401  (registers the tables)
    from portal.ledger.cli import export_command, oversight_cli
    from portal.ledger.oversight_views import bp as oversight_bp
    from portal.ledger.public_counts import office_feedback_counts
    from portal.ledger.views import bp, notice_public_stats
    from portal.notices.feedback_counts import register_counter

    app.register_blueprint(bp)
    app.register_blueprint(oversight_bp)
    app.cli.add_command(oversight_cli)
    app.add_template_global(notice_public_stats, "notice_public_stats")
    submissions_cli.add_command(export_command)
    register_counter(app, office_feedback_counts)
