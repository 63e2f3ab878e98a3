"""Staff quarantine of inbound mail: list, read safely, download the raw .eml, release, delete.

Scoped by office where the rows are read: a triager sees and handles the mail of the offices
where it is a triager; mail no office could be found for is seen by the supervisor and admin
only. The supervisor reads (list and page) but does not release, delete or download."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import ColumnElement
from werkzeug.wrappers import Response as BaseResponse

from portal import audit, site
from portal.extensions import db
from portal.intake.follow_ups import held_follow_ups, review_follow_up
from portal.intake.mail.models import MailMessage
from portal.intake.mail.parse import parse_message
from portal.intake.mail.quarantine import delete as delete_message
from portal.intake.mail.quarantine import quarantined, release
from portal.intake.models import FollowUp, Submission
from portal.personal_data import mask_email
from portal.staff.auth import roles_required
from portal.staff.scope import office_clause, require_office

bp = Blueprint("mail_quarantine", __name__, url_prefix="/staff/mail")
ROLES = ("triager", "supervisor")  # admin always passes


@bp.after_request
def _private(response: Response) -> Response:
    # Quarantined mail is personal data: never cached, never sniffed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _reading_roles() -> tuple[str, ...]:
    # The supervisor reads every office's mail (unrouted included); staff only as triagers.
    return ("viewer",) if current_user.role == "supervisor" else ("triager",)


def _scope() -> ColumnElement[bool]:
    return office_clause(MailMessage.office_id, *_reading_roles())


def _pending_or_404(message_id: int, *roles: str) -> MailMessage:
    """The pending message, once the user may act on its office with ``roles`` (404 when it
    may not see that office at all: never confirm it exists)."""
    row = db.session.get(MailMessage, message_id)
    if row is None or row.release_state != "pending" or row.raw is None:
        abort(404)
    require_office(row.office_id, *roles)
    return row


@bp.get("/quarantine")
@roles_required(*ROLES)
def quarantine_list() -> str:
    rows = quarantined(scope=_scope())
    return render_template(
        "intake/mail_quarantine.html",
        rows=rows,
        mask_email=mask_email,
        may_handle=current_user.role != "supervisor",
    )


@bp.get("/quarantine/<int:message_id>")
@roles_required(*ROLES)
def quarantine_show(message_id: int) -> str:
    row = _pending_or_404(message_id, *_reading_roles())
    parsed = parse_message(row.raw_bytes or b"")
    return render_template(
        "intake/mail_message.html",
        row=row,
        parsed=parsed,
        mask_email=mask_email,
        may_handle=current_user.role != "supervisor",
    )


@bp.get("/quarantine/<int:message_id>/raw")
@roles_required(*ROLES)
def quarantine_raw(message_id: int) -> Response:
    row = _pending_or_404(message_id, "triager")
    audit.record("mail.download", object_type="mail_message", object_id=row.id)
    db.session.commit()
    return site.download(row.raw_bytes or b"", "message/rfc822", f"mail-{row.id}.eml")


@bp.post("/quarantine/<int:message_id>/release")
@roles_required(*ROLES)
def quarantine_release(message_id: int) -> BaseResponse:
    row = _pending_or_404(message_id, "triager")
    try:
        outcome = release(row, actor=audit.current_actor())
    except ValueError as exc:
        db.session.rollback()
        flash(_("放行失败：%(error)s", error=exc), "error")
        return redirect(url_for(".quarantine_show", message_id=message_id))
    flash(_("已放行并登记为 %(code)s（状态：待处理 held）。", code=outcome.code), "success")
    return redirect(url_for(".quarantine_list"))


@bp.post("/quarantine/<int:message_id>/delete")
@roles_required(*ROLES)
def quarantine_delete(message_id: int) -> BaseResponse:
    row = _pending_or_404(message_id, "triager")
    delete_message(row, actor=audit.current_actor())
    flash(_("隔离邮件已删除。"), "success")
    return redirect(url_for(".quarantine_list"))


# --- mailed follow-ups from another address, waiting for staff ------------------------------


@bp.get("/follow-ups")
@roles_required(*ROLES)
def follow_ups_held() -> str:
    rows = held_follow_ups(scope=office_clause(Submission.office_id, *_reading_roles()))
    return render_template(
        "intake/mail_follow_ups.html", rows=rows, may_handle=current_user.role != "supervisor"
    )


@bp.post("/follow-ups/<int:follow_up_id>/<any(accept, reject):decision>")
@roles_required(*ROLES)
def follow_up_review(follow_up_id: int, decision: str) -> BaseResponse:
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None or follow_up.review_state != "held":
        abort(404)
    require_office(follow_up.submission.office_id, "triager")
    review_follow_up(follow_up, accept=decision == "accept", actor=audit.current_actor())
    if decision == "accept":
        flash(_("已确认为反映人本人的补充，反映人可在查询页面看到。"), "success")
    else:
        flash(_("已确认不是反映人本人的补充：仅工作人员可见。"), "success")
    return redirect(url_for(".follow_ups_held"))
