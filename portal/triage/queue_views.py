"""Staff pages of the queue (/staff/queue): the filtered list, bulk actions and saved views.

They hang on the triage blueprint of views.py, so their endpoints are triage.queue and so on.
Everything is limited to the offices the user may read (bulk actions: where it is a triager);
the ``office`` filter offers only those offices, the notice filter only their notices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.intake.models import CHANNEL_LABELS, CHANNELS, Submission
from portal.intake.service import find_by_code
from portal.notices.models import Finding, Notice
from portal.offices.models import Office
from portal.offices.service import all_offices
from portal.staff.auth import roles_required
from portal.staff.scope import visible_office_ids
from portal.triage import actions, deadlines, duplicates, findings, queue, queue_saved, workflow
from portal.triage.forms import BulkForm, SaveViewForm, first_error, malformed
from portal.triage.models import SavedView
from portal.triage.views import (
    ACT_ROLES,
    ACTION_ERRORS,
    READ_ROLES,
    assignee,
    bp,
    can_act,
    no_store,
)
from portal.workdays import WorkCalendar, local_date, local_today

BULK_MAX = 500  # rows one bulk action may touch
REFUSALS_SHOWN = 10

# One bulk action on one row, by this actor: True when it changed something.
BulkAction = Callable[[Submission, str], bool]


def _to_queue(query: str = "") -> Response:
    return redirect(url_for("triage.queue") + "?" + query.lstrip("?"), code=303)


def readable_offices(offices: queue.Offices) -> list[Office]:
    """The offices the office filter offers: those the user may read."""
    return [o for o in all_offices() if offices is None or o.id in offices]


def _visible_notices(offices: queue.Offices) -> list[Row[tuple[int, str]]]:
    """(id, title) of every notice the user may filter by: the filter list needs no more, and a
    supervisor's list holds every notice of the deployment (whole rows cost ~0.2 s at 1,000)."""
    query = select(Notice.id, Notice.title).order_by(Notice.id.desc())
    if offices is not None:
        query = query.where(Notice.office_id.in_(sorted(offices)))
    return list(db.session.execute(query))


# What a row's marker says: the citizen came back, the clock is paused, the date has passed.
MARKERS: dict[str, LazyString] = {
    "follow_up": _l("新追问"),
    "reopened": _l("不满意"),
    "paused": _l("暂停计时"),
    "overdue": _l("已逾期"),
    "due_soon": _l("即将到期"),
}


def row_state(submission: Submission, today: date, calendar: WorkCalendar) -> str | None:
    """The deadline marker of a queue row: "paused" while waiting for the submitter (the
    clock stops), else deadlines.deadline_state."""
    if submission.status in queue.PAUSED_STATUSES:
        return "paused"
    return deadlines.deadline_state(submission.status, submission.reply_due_on, today, calendar)


def _with_campaign(filters: queue.QueueFilter, offices: queue.Offices) -> queue.QueueFilter:
    """A campaign filter resolved to the codes of that opinion and its similar ones (E2's
    duplicates.find_near_duplicates, same office); an unknown or unreadable code is empty."""
    if not filters.campaign:
        return filters
    origin = find_by_code(filters.campaign)
    if origin is None or (offices is not None and origin.office_id not in offices):
        return replace(filters, codes=())
    similar = duplicates.find_near_duplicates(origin)
    return replace(filters, codes=(origin.code, *(s.key for s in similar)))


def _bad_filter(exc: queue.BadFilter) -> Response:
    flash(_("筛选条件“%(filter)s”无效，已清除。", filter=exc), "error")
    return redirect(url_for("triage.queue"), code=303)


@bp.get("/queue", endpoint="queue")
@roles_required(*READ_ROLES)
def queue_page() -> Response:
    offices = visible_office_ids(current_user)
    office_choices = readable_offices(offices)
    try:
        filters = queue.parse_filter(request.args)
        queue.check_office(filters, {o.id for o in office_choices})
    except queue.BadFilter as exc:
        return _bad_filter(exc)
    filters = _with_campaign(filters, offices)
    today = local_today()
    result = queue.page(filters, user_id=current_user.id, today=today, offices=offices)
    calendar = WorkCalendar.from_config(current_app.config)
    states = {s.id: row_state(s, today, calendar) for s in result.rows}
    notices = _visible_notices(offices)
    chosen = any(n.id == filters.notice for n in notices)
    notice = db.session.get(Notice, filters.notice) if chosen else None
    html = render_template(
        "triage/queue.html",
        filters=filters,
        page=result,
        states=states,
        offices=office_choices,
        office_names={o.id: o.display_name for o in office_choices},
        notices=notices,
        notice=notice,
        findings=notice.findings if notice else [],
        categories=notice.categories if notice else [],
        channels=CHANNELS,
        channel_labels=CHANNEL_LABELS,
        statuses=workflow.STATUSES,
        label=workflow.label,
        markers=MARKERS,
        users=actions.assignable_users(offices),
        views=queue_saved.saved_views(current_user.id),
        can_act=can_act(),
        local_date=local_date,
    )
    return no_store(make_response(html))


def _bulk_action(form: BulkForm) -> BulkAction:
    """What the form asks to do to each row; ActionError when it cannot be done to any."""
    if form.action.data == "assign":
        user = assignee(form.assignee.data)
        return lambda submission, actor: actions.assign(submission, user, actor=actor) is not None
    if form.action.data == "status":
        new, reason = form.status.data or "", form.reason.data

        def change(submission: Submission, actor: str) -> bool:
            if submission.status == new:
                return False
            workflow.change_status(submission, new, actor=actor, reason=reason)
            return True

        return change
    finding = db.session.get(Finding, form.finding.data)
    if finding is None:
        raise actions.ActionError(_("请选择问题。"))

    def link(submission: Submission, actor: str) -> bool:
        findings.confirm_finding(submission, finding, actor=actor)
        return True

    return link


@bp.post("/queue/bulk")
@roles_required(*ACT_ROLES)
def queue_bulk() -> Response:
    form = BulkForm()
    valid = form.validate()
    if malformed(form):
        abort(400)
    back = form.back.data or ""
    # Rows of offices where the user is no triager are left out, as if never ticked.
    rows = queue.ids_matching(
        form.ids.data[:BULK_MAX], visible_office_ids(current_user, *ACT_ROLES)
    )
    if not rows:
        flash(_("请先勾选意见。"), "error")
        return _to_queue(back)
    if not valid:
        flash(first_error(form), "error")
        return _to_queue(back)
    try:
        apply = _bulk_action(form)
    except actions.ActionError as exc:
        flash(str(exc), "error")
        return _to_queue(back)
    actor = current_user.actor
    done, refused = 0, []
    for submission in rows:
        try:
            if apply(submission, actor):
                done += 1
        except ACTION_ERRORS as exc:
            refused.append(_("%(code)s：%(error)s", code=submission.code, error=exc))
    db.session.commit()
    flash(_("已处理%(n)s件。", n=done), "success")
    for message in refused[:REFUSALS_SHOWN]:
        flash(message, "error")
    return _to_queue(back)


@bp.post("/queue/views")
@roles_required(*READ_ROLES)
def save_view() -> Response:
    form = SaveViewForm()
    if not form.validate():
        flash(first_error(form), "error")
        return redirect(url_for("triage.queue"), code=303)
    try:
        queue.check_office(
            form.filters, {o.id for o in readable_offices(visible_office_ids(current_user))}
        )
    except queue.BadFilter as exc:
        return _bad_filter(exc)
    try:
        view = queue_saved.save_view(current_user.id, form.name.data or "", form.filters)
        db.session.commit()
    except queue.BadFilter:
        db.session.rollback()
        flash(_("请填写视图名称。"), "error")
        return redirect(url_for("triage.queue"), code=303)
    except IntegrityError:
        db.session.rollback()
        abort(409)
    flash(_("已保存视图“%(name)s”。", name=view.name), "success")
    return _to_queue(view.query)


@bp.post("/queue/views/<int:view_id>/delete")
@roles_required(*READ_ROLES)
def delete_view(view_id: int) -> Response:
    view = db.session.get(SavedView, view_id)
    if view is None or view.user_id != current_user.id:
        abort(404)
    db.session.delete(view)
    db.session.commit()
    flash(_("视图已删除。"), "success")
    return redirect(url_for("triage.queue"), code=303)
