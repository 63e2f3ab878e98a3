"""Staff pages for replies: compose (panel on the detail page), letters, editors' approvals.

/staff/submissions/<code>/reply           GET compose page, POST send (triager, editor)
/staff/submissions/<code>/replies/<id>/letter   printable letter for postal submitters
/staff/replies/pending                    editors approve or reject anonymised public texts
/staff/replies/<id>/approve|reject        POST (editor)

Each page is about one submission of one office: a triager or editor of that office replies,
an editor of that office approves or rejects its publication (admin does both); another
office's submission or reply is a 404, one the user only reads a 403.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.intake.models import Submission
from portal.staff.auth import roles_required
from portal.staff.scope import can, require_office, visible_office_ids
from portal.triage import replies, workflow
from portal.triage.forms import ApproveForm, RejectForm, ReplyForm
from portal.triage.models import Reply
from portal.triage.views import load

bp = Blueprint("replies", __name__, url_prefix="/staff")


def _reply_or_404(reply_id: int, *roles: str) -> Reply:
    """The reply if the user may read its submission's office (else 404), holding one of
    ``roles`` there (else 403)."""
    reply = db.session.get(Reply, reply_id)
    if reply is None:
        abort(404)
    require_office(reply.submission.office_id, *roles)
    return reply


def _detail_url(submission: Submission) -> str:
    # At the reply panel: where the sender was, with or without script (triage-detail.js).
    return url_for("triage.detail", code=submission.code) + "#reply"


def panel_context(submission: Submission) -> dict[str, Any]:
    """What templates/triage/_reply_panel.html shows (a template global, so the detail page
    only needs to include the panel)."""
    may_reply = current_user.is_authenticated and can(submission.office_id, *replies.REPLIER_ROLES)
    return {
        "may_reply": may_reply,
        "canned": replies.canned_texts(submission) if may_reply else [],
        "replies": replies.replies_for(submission),
        "channel": replies.reply_channel(submission),
        "can_reply_now": submission.status == "replied"
        or workflow.can_transition(submission.status, "replied"),
    }


@bp.get("/submissions/<code>/reply")
@roles_required(*replies.REPLIER_ROLES)
def compose(code: str) -> str:
    submission = load(code, *replies.REPLIER_ROLES)
    draft = ""
    chosen = request.args.get("canned", "")
    if chosen.isdigit():
        texts = replies.canned_texts(submission)
        draft = texts[int(chosen)].body if int(chosen) < len(texts) else ""
    return render_template("triage/reply_compose.html", submission=submission, reply_draft=draft)


def _sent_message(channel: str) -> str:
    if channel == "email":
        return _("答复已发送（邮件已进入发送队列）。")
    if channel == "letter":
        return _("答复已保存，请打印答复信邮寄。")
    return _("答复已保存，提交人可在查询页面看到。")


@bp.post("/submissions/<code>/reply")
@roles_required(*replies.REPLIER_ROLES)
def send(code: str) -> Response:
    submission = load(code, *replies.REPLIER_ROLES)
    form = ReplyForm()
    if not form.validate():
        abort(400)
    try:
        reply = replies.send_reply(
            submission,
            body=form.body.data or "",
            actor_user=current_user,
            publish_request=form.publish.data,
        )
    except (replies.ReplyError, workflow.TransitionError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(_detail_url(submission), code=303)
    db.session.commit()
    flash(_sent_message(reply.channel), "success")
    return redirect(_detail_url(submission), code=303)


@bp.get("/submissions/<code>/replies/<int:reply_id>/letter")
@roles_required(*replies.REPLIER_ROLES)
def letter(code: str, reply_id: int) -> Response:
    submission = load(code, *replies.REPLIER_ROLES)
    reply = _reply_or_404(reply_id)
    if reply.submission_id != submission.id:
        abort(404)
    # The letters pages own the letterhead layout and audit the address view; they start the
    # letter from this reply, and staff may still edit it there before printing.
    return redirect(url_for("letters.letter", code=submission.code, reply_id=reply.id))


@bp.get("/replies/pending")
@roles_required(*replies.EDITOR_ROLES)
def pending() -> str:
    items = replies.pending_publications(visible_office_ids(current_user, *replies.EDITOR_ROLES))
    choices = {r.id: replies.finding_choices(r.submission) for r in items}
    return render_template("triage/replies_pending.html", items=items, choices=choices)


@bp.post("/replies/<int:reply_id>/approve")
@roles_required(*replies.EDITOR_ROLES)
def approve(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id, *replies.EDITOR_ROLES)
    form = ApproveForm()
    if not form.validate():
        abort(400)
    try:
        replies.approve_publication(
            reply,
            editor=current_user,
            question=form.question.data or "",
            answer=form.answer.data or "",
            finding_id=form.finding_id.data,
        )
    except replies.ReplyError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".pending"), code=303)
    db.session.commit()
    flash(_("已批准公开（%(code)s）。", code=reply.submission.code), "success")
    return redirect(url_for(".pending"), code=303)


@bp.post("/replies/<int:reply_id>/reject")
@roles_required(*replies.EDITOR_ROLES)
def reject(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id, *replies.EDITOR_ROLES)
    form = RejectForm()
    if not form.validate():
        abort(400)
    replies.reject_publication(reply, editor=current_user, reason=form.reason.data or "")
    db.session.commit()
    flash(_("已不予公开（%(code)s）。", code=reply.submission.code), "success")
    return redirect(url_for(".pending"), code=303)
