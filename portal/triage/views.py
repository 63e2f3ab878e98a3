"""Staff pages: the queue (/staff/queue) and a submission's detail (/staff/submissions/<code>).

Viewers read (personal data masked, no attachment downloads); triagers and admins act.
Every action is a POST (CSRF checked by CSRFProtect), writes an audit event and commits once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.intake.attachments import send_attachment_response
from portal.intake.models import CHANNELS, Attachment, Submission
from portal.intake.sanitize import clean_html
from portal.intake.service import find_by_code, find_by_code_or_404
from portal.notices.models import Finding, Notice
from portal.staff.auth import roles_required
from portal.staff.models import User
from portal.triage import actions, deadlines, duplicates, queue, workflow
from portal.triage.models import SavedView
from portal.workdays import WorkCalendar, local_date, local_today

bp = Blueprint("triage", __name__, url_prefix="/staff")

READ_ROLES = ("triager", "viewer")
ACT_ROLES = ("triager",)  # admin passes every check


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _detail_url(submission: Submission) -> str:
    return url_for("triage.detail", code=submission.code)


def _back(submission: Submission) -> Response:
    return redirect(_detail_url(submission), code=303)


ACTION_ERRORS = (actions.ActionError, workflow.TransitionError)


def _act(submission: Submission, action: Callable[[], object], done: Callable[[], str]) -> Response:
    """Run a staff action on the detail page: commit and say so, or roll back and say why."""
    try:
        action()
    except ACTION_ERRORS as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(submission)
    db.session.commit()
    flash(done(), "success")
    return _back(submission)


def _can_act() -> bool:
    return bool(current_user.is_authenticated and current_user.has_role(*ACT_ROLES))


# --- queue -----------------------------------------------------------------------------------


@bp.get("/queue", endpoint="queue")
@roles_required(*READ_ROLES)
def queue_page() -> Any:
    try:
        filters = queue.parse_filter(request.args)
    except queue.BadFilter as exc:
        flash(_("筛选条件“%(filter)s”无效，已清除。", filter=exc), "error")
        return redirect(url_for("triage.queue"), code=303)
    today = local_today()
    result = queue.page(filters, user_id=current_user.id, today=today)
    calendar = WorkCalendar.from_config(current_app.config)
    states = {
        s.id: deadlines.deadline_state(s.status, s.reply_due_on, today, calendar)
        for s in result.rows
    }
    notices = list(db.session.scalars(select(Notice).order_by(Notice.id.desc())))
    notice = next((n for n in notices if n.id == filters.notice), None)
    html = render_template(
        "triage/queue.html",
        filters=filters,
        page=result,
        states=states,
        notices=notices,
        notice=notice,
        findings=notice.findings if notice else [],
        categories=notice.categories if notice else [],
        channels=CHANNELS,
        statuses=workflow.STATUSES,
        label=workflow.label,
        users=actions.assignable_users(),
        views=queue.saved_views(current_user.id),
        can_act=_can_act(),
        local_date=local_date,
    )
    return _no_store(make_response(html))


def _selected() -> list[Submission]:
    ids = []
    for raw in request.form.getlist("ids"):
        try:
            ids.append(int(raw))
        except ValueError:
            abort(400)
    return queue.ids_matching(ids[:500])


@bp.post("/queue/bulk")
@roles_required(*ACT_ROLES)
def queue_bulk() -> Response:
    rows = _selected()
    back = url_for("triage.queue") + "?" + (request.form.get("back") or "").lstrip("?")
    if not rows:
        flash(_("请先勾选意见。"), "error")
        return redirect(back, code=303)
    action = request.form.get("action")
    actor = current_user.actor
    done, refused = 0, []
    try:
        for submission in rows:
            try:
                if _bulk_one(submission, action, actor):
                    done += 1
            except (workflow.TransitionError, actions.ActionError) as exc:
                refused.append(_("%(code)s：%(error)s", code=submission.code, error=exc))
    except _BadBulk as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back, code=303)
    db.session.commit()
    flash(_("已处理%(n)s件。", n=done), "success")
    for message in refused[:10]:
        flash(message, "error")
    return redirect(back, code=303)


class _BadBulk(ValueError):
    pass


def _bulk_one(submission: Submission, action: str | None, actor: str) -> bool:
    form = request.form
    if action == "assign":
        user = _assignee(form.get("assignee"))
        return actions.assign(submission, user, actor=actor) is not None
    if action == "status":
        new = form.get("status") or ""
        if new not in workflow.STATUSES:
            raise _BadBulk(_("请选择状态。"))
        if submission.status == new:
            return False
        workflow.change_status(submission, new, actor=actor, reason=form.get("reason"))
        return True
    if action == "finding":
        finding = db.session.get(Finding, _int_or_400(form.get("finding")))
        if finding is None:
            raise _BadBulk(_("请选择问题。"))
        actions.confirm_finding(submission, finding, actor=actor)
        return True
    raise _BadBulk(_("未知的批量操作。"))


def _int_or_400(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        abort(400)


def _assignee(raw: str | None) -> User | None:
    if not raw or raw == "none":
        return None
    user = db.session.get(User, _int_or_400(raw))
    if user is None:
        raise actions.ActionError(_("没有这个用户。"))
    return user


@bp.post("/queue/views")
@roles_required(*READ_ROLES)
def save_view() -> Response:
    try:
        filters = queue.parse_filter(request.form)
        view = queue.save_view(current_user.id, request.form.get("name") or "", filters)
        db.session.commit()
    except queue.BadFilter:
        db.session.rollback()
        flash(_("请填写视图名称。"), "error")
        return redirect(url_for("triage.queue"), code=303)
    except IntegrityError:
        db.session.rollback()
        abort(409)
    flash(_("已保存视图“%(name)s”。", name=view.name), "success")
    return redirect(url_for("triage.queue") + "?" + view.query, code=303)


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


# --- detail ----------------------------------------------------------------------------------


def _render_detail(submission: Submission, *, revealed: dict[str, str] | None = None) -> Response:
    today = local_today()
    calendar = WorkCalendar.from_config(current_app.config)
    original, merged = actions.duplicate_links(submission)
    near = duplicates.find_near_duplicates(submission)
    assignee = db.session.get(User, submission.assignee_id) if submission.assignee_id else None
    # Stored HTML is cleaned again on the way out: only the sanitiser's output is ever trusted.
    body_html = Markup(clean_html(submission.body_html)) if submission.body_html else None  # noqa: S704
    html = render_template(
        "triage/detail.html",
        submission=submission,
        body_html=body_html,
        masked=actions.masked_personal_data(submission),
        revealed=revealed,
        field_labels=actions.FIELD_LABELS,
        finding_rows=actions.finding_rows(submission),
        all_findings=submission.notice.findings if submission.notice else [],
        timeline=actions.timeline(submission),
        targets=workflow.allowed_targets(submission.status),
        reason_required=workflow.REASON_REQUIRED,
        label=workflow.label,
        users=actions.assignable_users(),
        assignee=assignee,
        original=original,
        merged=merged,
        near=near,
        campaign=len(near) + 1 >= duplicates.CAMPAIGN_MIN_SIZE,
        state=deadlines.deadline_state(submission.status, submission.reply_due_on, today, calendar),
        ack_overdue=deadlines.ack_overdue(submission.status, submission.ack_due_on, today),
        can_act=_can_act(),
        local_date=local_date,
    )
    return _no_store(make_response(html))


@bp.get("/submissions/<code>")
@roles_required(*READ_ROLES)
def detail(code: str) -> Response:
    return _render_detail(find_by_code_or_404(code))


@bp.post("/submissions/<code>/personal-data")
@roles_required(*ACT_ROLES)
def reveal(code: str) -> Response:
    submission = find_by_code_or_404(code)
    try:
        shown = actions.reveal_personal_data(
            submission, request.form.get("reason") or "", actor=current_user.actor
        )
    except actions.ActionError as exc:
        flash(str(exc), "error")
        return _back(submission)
    db.session.commit()
    return _render_detail(submission, revealed=shown)


@bp.get("/submissions/<code>/attachments/<int:attachment_id>")
@roles_required(*ACT_ROLES)
def attachment(code: str, attachment_id: int) -> Response:
    submission = find_by_code_or_404(code)
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.submission_id != submission.id:
        abort(404)
    try:
        response = send_attachment_response(item)
    except FileNotFoundError:
        abort(404)
    audit.record(
        "attachment.download",
        object_type="submission",
        object_id=submission.id,
        details={"attachment": item.id, "filename": item.filename},
    )
    db.session.commit()
    return response


@bp.post("/submissions/<code>/findings")
@roles_required(*ACT_ROLES)
def findings(code: str) -> Response:
    submission = find_by_code_or_404(code)
    finding = db.session.get(Finding, _int_or_400(request.form.get("finding")))
    if finding is None or finding.notice_id != submission.notice_id:
        abort(400)
    try:
        if request.form.get("op") == "remove":
            actions.remove_finding(submission, finding, actor=current_user.actor)
            message = _("已移除问题%(number)s。", number=finding.number)
        else:
            score = request.form.get("score")
            actions.confirm_finding(
                submission,
                finding,
                actor=current_user.actor,
                score=float(score) if score else None,
            )
            message = _("已确认问题%(number)s。", number=finding.number)
    except (actions.ActionError, ValueError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(submission)
    db.session.commit()
    flash(message, "success")
    return _back(submission)


@bp.post("/submissions/<code>/notes")
@roles_required(*ACT_ROLES)
def notes(code: str) -> Response:
    submission = find_by_code_or_404(code)
    return _act(
        submission,
        lambda: actions.add_note(submission, request.form.get("body") or "", user=current_user),
        lambda: _("备注已保存（仅内部可见）。"),
    )


@bp.post("/submissions/<code>/assign")
@roles_required(*ACT_ROLES)
def assign(code: str) -> Response:
    submission = find_by_code_or_404(code)
    return _act(
        submission,
        lambda: actions.assign(
            submission, _assignee(request.form.get("assignee")), actor=current_user.actor
        ),
        lambda: _("已更新经办人。"),
    )


@bp.post("/submissions/<code>/status")
@roles_required(*ACT_ROLES)
def status(code: str) -> Response:
    submission = find_by_code_or_404(code)
    return _act(
        submission,
        lambda: workflow.change_status(
            submission,
            request.form.get("status") or "",
            actor=current_user.actor,
            reason=request.form.get("reason"),
        ),
        lambda: _("状态已改为“%(status)s”。", status=workflow.label(submission.status)),
    )


@bp.post("/submissions/<code>/merge")
@roles_required(*ACT_ROLES)
def merge(code: str) -> Response:
    submission = find_by_code_or_404(code)
    original = find_by_code(request.form.get("original") or "")
    if original is None:
        flash(_("找不到该回执编号。"), "error")
        return _back(submission)
    score = dict(duplicates.find_near_duplicates(submission, threshold=0.0)).get(original.code)
    return _act(
        submission,
        lambda: actions.merge_duplicate(
            submission,
            original,
            actor=current_user.actor,
            reason=request.form.get("reason") or f"与{original.code}重复",
            similarity=score,
        ),
        lambda: _("已标记为%(code)s的重复意见。", code=original.code),
    )


@bp.post("/submissions/<code>/refer")
@roles_required(*ACT_ROLES)
def refer(code: str) -> Response:
    submission = find_by_code_or_404(code)
    form = request.form
    email_to = (form.get("email") or "").strip() or None
    if email_to and ("@" not in email_to or len(email_to) > 254 or not email_to.isprintable()):
        flash(_("转办邮箱地址无效。"), "error")
        return _back(submission)
    return _act(
        submission,
        lambda: actions.refer(
            submission,
            body_name=form.get("body_name") or "",
            contact=form.get("contact"),
            note=form.get("note"),
            reason=form.get("reason") or "",
            actor=current_user.actor,
            email_to=email_to,
            letter=bool(form.get("letter")),
        ),
        lambda: _("已转办。"),
    )
