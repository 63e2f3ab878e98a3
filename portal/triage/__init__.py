"""Triage: the staff queue, a submission's detail, workflow, deadlines, replies, the citizen's
/track pages, the printed letters and the routing desk (see DESIGN.md). Every staff page reads
only the offices of its user (portal.staff.scope). Triage also tells intake which office a
text is about (office_guess, registered with portal.intake.office_routing)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Registers models, blueprints and CLI of this feature."""
    from portal.intake.office_routing import register_guesser
    from portal.triage import (
        merge_views,  # noqa: F401  (adds the merge picker to the triage blueprint)
        models,  # noqa: F401  (registers the tables)
        queue_views,  # noqa: F401  (adds the queue's pages to the triage blueprint)
        refer_views,  # noqa: F401  (adds the referral suggestion's confirmation)
        routing_views,  # noqa: F401  (adds the routing desk to the triage blueprint)
        search,  # noqa: F401  (its ORM listeners keep the search index current)
    )
    from portal.triage.cli import triage_cli
    from portal.triage.letter_views import bp as letters_bp
    from portal.triage.office_guess import guess_office
    from portal.triage.reply_views import bp as reply_bp
    from portal.triage.reply_views import panel_context
    from portal.triage.track_views import bp as track_bp
    from portal.triage.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(reply_bp)
    app.register_blueprint(track_bp)
    app.register_blueprint(letters_bp)
    app.add_template_global(panel_context, "reply_panel_context")
    app.cli.add_command(triage_cli)
    register_guesser(guess_office)
