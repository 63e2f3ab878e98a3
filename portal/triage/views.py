"""Staff pages of a submission: its detail (/staff/submissions/<code>) and every action on it.

Viewers read (personal data masked, no attachment downloads); triagers and admins act.
Every action is a POST through a form of forms.py, writes an audit event and commits once.
The queue's pages (queue_views.py) and the routing desk (routing_views.py) hang on the same
blueprint.

Each page loads the submission, then asks portal.staff.scope.require_office: another office's
code is a 404 (its existence is never confirmed), an office the user only reads is a 403 on
every action. The supervisor reads every office and acts on none.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
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
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import audit, labels
from portal.extensions import db
from portal.intake.attachments import send_attachment_response
from portal.intake.models import CHANNEL_LABELS, Attachment, Submission
from portal.intake.sanitize import clean_html
from portal.intake.service import find_by_code, find_by_code_or_404
from portal.notices.models import Finding
from portal.site import same_origin_only
from portal.staff.auth import roles_required
from portal.staff.models import User
from portal.staff.recent_auth import recent_auth_required
from portal.staff.scope import can, require_office
from portal.triage import actions, deadlines, duplicates, findings, reveal, workflow
from portal.triage.forms import (
    AssignForm,
    DismissForm,
    FindingForm,
    MergeForm,
    NoteForm,
    ReferForm,
    RevealForm,
    StatusForm,
    first_error,
)
from portal.triage.timeline import timeline
from portal.workdays import WorkCalendar, local_date, local_today

bp = Blueprint("triage", __name__, url_prefix="/staff")

READ_ROLES = ("triager", "viewer")
ACT_ROLES = ("triager",)  # admin passes every check
ROUTER_ROLES = ("supervisor",)  # who routes unrouted submissions to an office (and admin)
ACTION_ERRORS = (actions.ActionError, workflow.TransitionError)
# Pictures shown inline to staff: intake re-encodes every one of these (attachments/check.py),
# so what is served is the portal's own clean encoding, never the sender's bytes.
PREVIEW_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# How sure the Router is, in words: staff never see a raw score.
STRENGTH_LABELS = {"strong": _l("强"), "medium": _l("中"), "weak": _l("弱")}


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def can_act() -> bool:
    """Whether the user is a triager anywhere (the queue's bulk actions)."""
    return bool(current_user.is_authenticated and current_user.has_role(*ACT_ROLES))


def can_act_on(submission: Submission) -> bool:
    """Whether the user may act on this submission: a triager of its office, or an admin."""
    return bool(current_user.is_authenticated and can(submission.office_id, *ACT_ROLES))


def load(code: str, *roles: str) -> Submission:
    """The submission of ``code`` if the user may read its office (else 404), holding one of
    ``roles`` there when given (else 403)."""
    submission = find_by_code_or_404(code)
    require_office(submission.office_id, *roles)
    return submission


def assignee(user_id: int | None) -> User | None:
    """The user an assign form chose (None: nobody); ActionError when there is no such user."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        raise actions.ActionError(_("没有这个用户。"))
    return user


def _back(submission: Submission, section: str = "") -> Response:
    """Back to the detail page, at the section acted on (without script the browser lands
    there; triage-detail.js follows the redirect with fetch and swaps the page body)."""
    anchor = f"#{section}" if section else ""
    return redirect(url_for("triage.detail", code=submission.code) + anchor, code=303)


def _act(
    submission: Submission,
    action: Callable[[], object],
    done: Callable[[], str],
    section: str = "",
) -> Response:
    """Run a staff action on the detail page: commit and say so, or roll back and say why."""
    try:
        action()
    except ACTION_ERRORS as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(submission, section)
    db.session.commit()
    flash(done(), "success")
    return _back(submission, section)


def _refused(submission: Submission, message: str, section: str = "") -> Response:
    flash(message, "error")
    return _back(submission, section)


def partial_requested() -> bool:
    """triage-detail.js asks for the page body alone (header X-Partial: detail, which fetch
    keeps across the action's redirect; ?partial=detail for a plain link)."""
    return "detail" in (request.headers.get("X-Partial"), request.args.get("partial"))


def actor_names(actors: list[str | None]) -> dict[str, str]:
    """Every actor in words (labels.actor_label): a staff name, "系统" or "市民"."""
    ids = {labels.actor_user_id(a) for a in actors} - {None}
    users = {
        u.id: u.display_name or u.email
        for u in db.session.scalars(select(User).where(User.id.in_(ids)))
    }
    return {actor: labels.actor_label(actor, users) for actor in actors if actor}


def _render_detail(submission: Submission, *, revealed: dict[str, str] | None = None) -> Response:
    today = local_today()
    calendar = WorkCalendar.from_config(current_app.config)
    original, merged = actions.duplicate_links(submission)
    similar, similar_count = duplicates.similar_with_rows(submission)
    assigned = db.session.get(User, submission.assignee_id) if submission.assignee_id else None
    rows = findings.finding_rows(submission)
    # Stored HTML is cleaned again on the way out: only the sanitiser's output is ever trusted.
    body_html = Markup(clean_html(submission.body_html)) if submission.body_html else None  # noqa: S704
    partial = partial_requested()
    html = render_template(
        "triage/_detail_body.html" if partial else "triage/detail.html",
        partial=partial,
        previewable=PREVIEW_TYPES,
        submission=submission,
        channel_labels=CHANNEL_LABELS,
        body_html=body_html,
        masked=reveal.masked_personal_data(submission),
        revealed=revealed,
        field_labels=reveal.FIELD_LABELS,
        finding_rows=rows,
        referral=findings.referral_suggestion(submission),
        strength_labels=STRENGTH_LABELS,
        confirmers=actor_names([row.link.by for row in rows if row.link]),
        all_findings=submission.notice.findings if submission.notice else [],
        timeline=timeline(submission),
        targets=workflow.allowed_targets(submission.status),
        reason_required=workflow.REASON_REQUIRED,
        label=workflow.label,
        users=actions.assignable_for(submission),
        assignee=assigned,
        original=original,
        merged=merged,
        similar=similar,
        similar_count=similar_count,
        campaign=similar_count + 1 >= duplicates.CAMPAIGN_MIN_SIZE,
        state=deadlines.deadline_state(submission.status, submission.reply_due_on, today, calendar),
        ack_overdue=deadlines.ack_overdue(submission.status, submission.ack_due_on, today),
        can_act=can_act_on(submission),
        may_route=submission.office_id is None and current_user.has_role(*ROUTER_ROLES),
        local_date=local_date,
    )
    return no_store(make_response(html))


@bp.get("/submissions/<code>")
@roles_required(*READ_ROLES)
def detail(code: str) -> Response:
    return _render_detail(load(code))


@bp.post("/submissions/<code>/personal-data", endpoint="reveal")
@roles_required(*ACT_ROLES)
@recent_auth_required
def reveal_personal_data(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = RevealForm()
    if not form.validate():
        abort(400)
    try:
        shown = reveal.reveal_personal_data(
            submission, form.reason.data or "", actor=current_user.actor
        )
    except actions.ActionError as exc:
        return _refused(submission, str(exc))
    db.session.commit()
    return _render_detail(submission, revealed=shown)


@bp.get("/submissions/<code>/attachments/<int:attachment_id>")
@roles_required(*ACT_ROLES)
@same_origin_only  # a download records an event: never started by another site
def attachment(code: str, attachment_id: int) -> Response:
    submission = load(code, *ACT_ROLES)
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


@bp.get("/submissions/<code>/attachments/<int:attachment_id>/preview")
@roles_required(*ACT_ROLES)
@same_origin_only
def attachment_preview(code: str, attachment_id: int) -> Response:
    """A re-encoded picture shown inline on the detail page: same origin only, nothing but
    the image may load from it, and each view is audited as a download is."""
    submission = load(code, *ACT_ROLES)
    item = db.session.get(Attachment, attachment_id)
    if item is None or item.submission_id != submission.id:
        abort(404)
    if item.content_type not in PREVIEW_TYPES:
        abort(404)
    try:
        response = send_attachment_response(item)
    except FileNotFoundError:
        abort(404)
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    audit.record(
        "attachment.download",
        object_type="submission",
        object_id=submission.id,
        details={"attachment": item.id, "filename": item.filename, "preview": True},
    )
    db.session.commit()
    return response


@bp.post("/submissions/<code>/findings", endpoint="findings")
@roles_required(*ACT_ROLES)
def link_finding(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = FindingForm()
    if not form.validate():
        abort(400)
    finding = db.session.get(Finding, form.finding.data)
    if finding is None or finding.notice_id != submission.notice_id:
        abort(400)
    if form.removes:
        return _act(
            submission,
            lambda: findings.remove_finding(submission, finding, actor=current_user.actor),
            lambda: _("已移除问题%(number)s。", number=finding.number),
            "findings",
        )
    return _act(
        submission,
        lambda: findings.confirm_finding(
            submission, finding, actor=current_user.actor, score=form.score.data
        ),
        lambda: _("已确认问题%(number)s。", number=finding.number),
        "findings",
    )


@bp.post("/submissions/<code>/suggestions/dismiss", endpoint="dismiss")
@roles_required(*ACT_ROLES)
def dismiss_suggestion(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = DismissForm()
    if not form.validate():
        abort(400)
    finding = db.session.get(Finding, form.finding.data)
    if finding is None or finding.notice_id != submission.notice_id:
        abort(400)
    return _act(
        submission,
        lambda: findings.dismiss_suggestion(submission, finding, actor=current_user.actor),
        lambda: _(
            "已驳回问题%(number)s的系统建议，不再向本意见建议该问题。", number=finding.number
        ),
        "findings",
    )


@bp.post("/submissions/<code>/notes")
@roles_required(*ACT_ROLES)
def notes(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = NoteForm()
    if not form.validate():
        abort(400)
    return _act(
        submission,
        lambda: actions.add_note(submission, form.body.data or "", user=current_user),
        lambda: _("备注已保存（仅内部可见）。"),
        "notes",
    )


@bp.post("/submissions/<code>/assign")
@roles_required(*ACT_ROLES)
def assign(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = AssignForm()
    if not form.validate():
        abort(400)
    return _act(
        submission,
        lambda: actions.assign(submission, assignee(form.assignee.data), actor=current_user.actor),
        lambda: _("已更新经办人。"),
        "assign",
    )


@bp.post("/submissions/<code>/status")
@roles_required(*ACT_ROLES)
def status(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = StatusForm()
    if not form.validate():
        abort(400)
    return _act(
        submission,
        lambda: workflow.change_status(
            submission, form.status.data or "", actor=current_user.actor, reason=form.reason.data
        ),
        lambda: _("状态已改为“%(status)s”。", status=workflow.label(submission.status)),
        "status",
    )


@bp.post("/submissions/<code>/merge")
@roles_required(*ACT_ROLES)
def merge(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = MergeForm()
    if not form.validate():
        abort(400)
    original = find_by_code(form.original.data or "")
    if original is None or not can(original.office_id):  # never confirm another office's code
        return _refused(submission, _("找不到该回执编号。"))
    score = duplicates.relation(submission, original).score
    return _act(
        submission,
        lambda: actions.merge_duplicate(
            submission,
            original,
            actor=current_user.actor,
            reason=form.reason.data or f"与{original.code}重复",
            similarity=score,
        ),
        lambda: _("已标记为%(code)s的重复意见。", code=original.code),
    )


@bp.post("/submissions/<code>/refer")
@roles_required(*ACT_ROLES)
def refer(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = ReferForm()
    if not form.validate():
        return _refused(submission, first_error(form))
    return _act(
        submission,
        lambda: actions.refer(
            submission,
            body_name=form.body_name.data or "",
            contact=form.contact.data,
            note=form.note.data,
            reason=form.reason.data or "",
            actor=current_user.actor,
            email_to=form.email.data,
            letter=form.letter.data,
        ),
        lambda: _("已转办。"),
    )
