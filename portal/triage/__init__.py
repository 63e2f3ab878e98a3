"""Triage: the staff queue, a submission's detail, workflow, deadlines, replies, the citizen's
/track pages, the printed letters and the routing desk (see DESIGN.md). Every staff page reads
only the offices of its user (portal.staff.scope). Triage also tells intake which office a
text is about (office_guess, registered with portal.intake.office_routing)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Registers models, blueprints and CLI of this feature."""
    from portal.intake.contract import register_field
    from portal.intake.follow_ups import register_follow_up_hook
    from portal.intake.office_routing import register_guesser
    from portal.triage import (
        canned_views,  # noqa: F401  (adds the canned replies' pages to the triage blueprint)
        case_models,  # noqa: F401  (ratings, pauses, identity disputes)
        case_views,
        merge_views,  # noqa: F401  (adds the merge picker to the triage blueprint)
        models,  # noqa: F401  (registers the tables)
        queue_views,  # noqa: F401  (adds the queue's pages to the triage blueprint)
        refer_views,  # noqa: F401  (adds the referral suggestion's confirmation)
        referral_views,  # noqa: F401  (adds the printed referral letter to the letters)
        routing_views,  # noqa: F401  (adds the routing desk to the triage blueprint)
        search,  # noqa: F401  (its ORM listeners keep the search index current)
        timeline,
        track_loop_views,  # noqa: F401  (code + phone, ratings, "not me" on /track)
        workbench,
    )
    from portal.triage.case_loop import on_follow_up
    from portal.triage.cli import triage_cli
    from portal.triage.letter_views import bp as letters_bp
    from portal.triage.not_me import contract_sender_email
    from portal.triage.not_me import link_url as not_me_url
    from portal.triage.office_guess import guess_office
    from portal.triage.reply_views import bp as reply_bp
    from portal.triage.reply_views import panel_context
    from portal.triage.satisfaction import contract_value, dashboard_summary
    from portal.triage.track_views import bp as track_bp
    from portal.triage.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(reply_bp)
    app.register_blueprint(track_bp)
    app.register_blueprint(letters_bp)
    app.add_template_global(panel_context, "reply_panel_context")
    app.add_template_global(workbench.tiles, "workbench_tiles")
    app.add_template_filter(timeline.channel_label, "channel_label")
    app.add_template_global(case_views.case_state_context, "case_state_context")
    app.add_template_global(dashboard_summary, "satisfaction_summary")
    app.add_template_global(not_me_url, "not_me_url")  # the acknowledgement mail's link
    app.cli.add_command(triage_cli)
    register_guesser(guess_office)
    register_follow_up_hook(on_follow_up)
    register_field("satisfaction", contract_value)
    register_field("sender_email", contract_sender_email)  # hidden while disputed (not_me)
