"""Triage: the staff queue, a submission's detail, workflow, deadlines, replies, the ledger and
statistics (see DESIGN.md)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Registers models, blueprints and CLI of this feature."""
    from portal.triage import (
        models,  # noqa: F401  (registers the tables)
        replies_feature,
        search,  # noqa: F401  (its ORM listeners keep the search index current)
    )
    from portal.triage.cli import triage_cli
    from portal.triage.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(triage_cli)
    replies_feature.init_app(app)  # replies, ledger, dashboard, suggest, dev seed
