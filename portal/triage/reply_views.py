"""Staff pages for replies: compose (panel on the detail page), letters, editors' approvals.

/staff/submissions/<code>/reply           GET compose page, POST send (triager, editor)
/staff/submissions/<code>/replies/<id>/letter   printable letter for postal submitters
/staff/replies/pending                    editors approve or reject anonymised public texts
/staff/replies/<id>/approve|reject        POST (editor)
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
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.intake.models import Submission
from portal.intake.service import find_by_code_or_404
from portal.staff.auth import roles_required
from portal.triage import replies
from portal.triage.models import Reply

bp = Blueprint("replies", __name__, url_prefix="/staff")


def _reply_or_404(reply_id: int) -> Reply:
    reply = db.session.get(Reply, reply_id)
    if reply is None:
        abort(404)
    return reply


def _detail_url(submission: Submission) -> str:
    return url_for("triage.detail", code=submission.code)


def panel_context(submission: Submission) -> dict[str, Any]:
    """What templates/triage/_reply_panel.html shows (a template global, so the detail page
    only needs to include the panel)."""
    may_reply = current_user.is_authenticated and current_user.has_role(*replies.REPLIER_ROLES)
    return {
        "may_reply": may_reply,
        "canned": replies.canned_texts(submission) if may_reply else [],
        "replies": replies.replies_for(submission),
        "channel": replies.reply_channel(submission),
        "can_reply_now": submission.status == "replied"
        or replies.workflow.can_transition(submission.status, "replied"),
    }


@bp.get("/submissions/<code>/reply")
@roles_required(*replies.REPLIER_ROLES)
def compose(code: str) -> str:
    submission = find_by_code_or_404(code)
    draft = ""
    chosen = request.args.get("canned", "")
    if chosen.isdigit():
        texts = replies.canned_texts(submission)
        draft = texts[int(chosen)].body if int(chosen) < len(texts) else ""
    return render_template("triage/reply_compose.html", submission=submission, reply_draft=draft)


@bp.post("/submissions/<code>/reply")
@roles_required(*replies.REPLIER_ROLES)
def send(code: str) -> Response:
    submission = find_by_code_or_404(code)
    try:
        reply = replies.send_reply(
            submission,
            body=request.form.get("body", ""),
            actor_user=current_user,
            publish_request=request.form.get("publish") in ("1", "on", "y"),
        )
    except (replies.ReplyError, replies.workflow.TransitionError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(_detail_url(submission), code=303)
    db.session.commit()
    sent = {
        "email": "答复已发送（邮件已进入发送队列）。",
        "letter": "答复已保存，请打印答复信邮寄。",
    }
    flash(sent.get(reply.channel, "答复已保存，提交人可在查询页面看到。"), "success")
    return redirect(_detail_url(submission), code=303)


@bp.get("/submissions/<code>/replies/<int:reply_id>/letter")
@roles_required(*replies.REPLIER_ROLES)
def letter(code: str, reply_id: int) -> Any:
    submission = find_by_code_or_404(code)
    reply = _reply_or_404(reply_id)
    if reply.submission_id != submission.id:
        abort(404)
    # The letters feature owns the letterhead layout and audits the address view; it starts
    # from the newest reply, which staff can edit there before printing.
    return redirect(url_for("letters.letter", code=submission.code))


@bp.get("/replies/pending")
@roles_required(*replies.EDITOR_ROLES)
def pending() -> str:
    items = replies.pending_publications()
    choices = {r.id: replies.finding_choices(r.submission) for r in items}
    return render_template("triage/replies_pending.html", items=items, choices=choices)


@bp.post("/replies/<int:reply_id>/approve")
@roles_required(*replies.EDITOR_ROLES)
def approve(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id)
    finding = request.form.get("finding_id", "")
    try:
        replies.approve_publication(
            reply,
            editor=current_user,
            question=request.form.get("question", ""),
            answer=request.form.get("answer", ""),
            finding_id=int(finding) if finding.isdigit() else None,
        )
    except replies.ReplyError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".pending"), code=303)
    db.session.commit()
    flash(f"已批准公开（{reply.submission.code}）。", "success")
    return redirect(url_for(".pending"), code=303)


@bp.post("/replies/<int:reply_id>/reject")
@roles_required(*replies.EDITOR_ROLES)
def reject(reply_id: int) -> Response:
    reply = _reply_or_404(reply_id)
    replies.reject_publication(reply, editor=current_user, reason=request.form.get("reason", ""))
    db.session.commit()
    flash(f"已不予公开（{reply.submission.code}）。", "success")
    return redirect(url_for(".pending"), code=303)
