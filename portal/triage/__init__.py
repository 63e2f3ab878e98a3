"""Triage: the staff queue, a submission's detail, workflow, deadlines (see DESIGN.md)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Registers models, blueprints and CLI of this feature."""
    from portal.triage import (
        models,  # noqa: F401  (registers the tables)
        search,
    )
    from portal.triage.cli import triage_cli
    from portal.triage.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(triage_cli)

    # --- replies engineer: ONE registration line below (replies, ledger, dashboard, suggest) ---
    __import__("portal.triage.replies_feature", fromlist=["init_app"]).init_app(app)

    # ------------------------------------------------------------------------------------------
    search.listen_for_replies()  # after the replies feature's models are imported
