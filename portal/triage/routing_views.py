"""The routing desk's pages, on the triage blueprint (endpoints triage.routing_desk, triage.route).

/staff/routing                        GET: unrouted submissions with suggested offices
                                      (?round=<slug> suggests from that round's notices only)
/staff/submissions/<code>/route       POST: route one to an office (and notice)

Only the inspection office (supervisor) and admins: the only write a supervisor makes on
office data. An office's staff never see unrouted submissions.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.intake.models import CHANNEL_LABELS
from portal.offices.models import Office
from portal.offices.service import all_offices, all_rounds, round_by_slug
from portal.staff.auth import roles_required
from portal.triage import office_guess, queue, routing_desk, workflow
from portal.triage.forms import RouteForm, first_error, malformed
from portal.triage.views import ROUTER_ROLES, bp, load, no_store
from portal.workdays import local_date


def _desk(query: str = "") -> Response:
    return redirect(url_for("triage.routing_desk") + ("?" + query if query else ""), code=303)


@bp.get("/routing", endpoint="routing_desk")
@roles_required(*ROUTER_ROLES)
def desk() -> Response:
    slug = request.args.get("round") or None
    chosen = round_by_slug(slug) if slug else None
    if slug and chosen is None:
        flash(_("没有这个巡察轮次，已显示全部公示的建议。"), "error")
        return _desk()
    after = request.args.get("after") or None
    try:
        result = routing_desk.desk_page(chosen.id if chosen else None, after)
    except queue.BadFilter:
        return _desk(urlencode({"round": slug}) if slug else "")
    html = render_template(
        "triage/routing_desk.html",
        page=result,
        rounds=all_rounds(),
        chosen=chosen,
        offices=all_offices(active_only=True),
        back=urlencode({k: v for k, v in (("round", slug), ("after", after)) if v}),
        score_word=office_guess.score_word,
        channel_labels=CHANNEL_LABELS,
        label=workflow.label,
        local_date=local_date,
    )
    return no_store(make_response(html))


@bp.post("/submissions/<code>/route", endpoint="route")
@roles_required(*ROUTER_ROLES)
def route(code: str) -> Response:
    submission = load(code)
    form = RouteForm()
    valid = form.validate()
    if malformed(form):
        abort(400)
    back = form.back.data or ""
    if not valid:
        flash(first_error(form), "error")
        return _desk(back)
    office = db.session.get(Office, form.office.data)
    try:
        routing_desk.route(submission, office, notice_id=form.notice.data, user=current_user)
    except routing_desk.RouteError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _desk(back)
    db.session.commit()
    assert office is not None  # route() refused None
    flash(
        _("已将%(code)s分给%(office)s办理。", code=submission.code, office=office.display_name),
        "success",
    )
    return _desk(back)
