"""The citizen's /track pages: open a case with code + secret, read its status and replies, add
a follow-up. They read replies, so they live above replies in triage.

The status page names the office handling the opinion (its public name only; nothing about its
staff), or says the inspection office is still deciding which office will.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import site
from portal.extensions import db, limiter
from portal.intake.follow_ups import add_follow_up
from portal.intake.forms import (
    FollowUpForm,
    TrackForm,
    apply_service_errors,
    incoming_files,
    upload_limits,
)
from portal.intake.models import FollowUp, Submission
from portal.intake.service import SubmissionRejected, check_secret, find_by_code
from portal.triage.replies import replies_for

bp = Blueprint("track", __name__)

TRACK_SECONDS = 30 * 60  # how long a code + secret check keeps /track open in this browser
TRACK_KEY = "track.track"

# What the submitter reads on /track. Spam looks like "received": a bot learns nothing.
PUBLIC_STATUS = {
    "received": _l("已收到，等待处理"),
    "held": _l("已收到，等待工作人员核验"),
    "spam": _l("已收到，等待处理"),
    "triaged": _l("已受理，正在分办"),
    "in_progress": _l("办理中"),
    "replied": _l("已答复"),
    "closed": _l("已办结"),
    "duplicate": _l("已与相同内容的意见合并办理"),
    "referred": _l("已转交有关部门办理"),
}


def _submit_limit() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


def _track_limit() -> str:
    return current_app.config["RATELIMIT_TRACK"]


def _tracked_submission() -> Submission | None:
    """The submission this browser proved it may see, while the 30 minutes last."""
    state = session.get(TRACK_KEY)
    if not state or state.get("until", 0) < time.time():
        session.pop(TRACK_KEY, None)
        return None
    return db.session.get(Submission, state["id"])


def _follow_ups(submission: Submission) -> list[FollowUp]:
    return list(
        db.session.scalars(
            select(FollowUp).where(FollowUp.submission_id == submission.id).order_by(FollowUp.at)
        )
    )


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(_track_limit, methods=["POST"])
def track() -> Any:
    form = TrackForm()
    if request.method == "POST" and form.validate():
        submission = find_by_code(form.code.data)
        # Always verify (check_secret hashes a dummy for an unknown code): answering an unknown
        # code without the hash would be measurably faster and tell which codes exist.
        verified = check_secret(submission, form.secret.data)
        if submission is not None and verified:
            session[TRACK_KEY] = {"id": submission.id, "until": time.time() + TRACK_SECONDS}
            return redirect(url_for(".track_status"), code=303)
        # One message for both cases: the page must not reveal which codes exist.
        form.secret.errors = [_("回执编号或查询密码不正确，请核对后重试。")]
    status = 422 if request.method == "POST" else 200
    return render_template("triage/track.html", form=form), status


def _render_status(submission: Submission, form: FollowUpForm, status: int = 200) -> Any:
    follow_ups = _follow_ups(submission)
    return (
        render_template(
            "triage/track_status.html",
            submission=submission,
            status_text=str(PUBLIC_STATUS.get(submission.status, _l("办理中"))),
            office_name=submission.office.name if submission.office else None,
            received_text=site.datetime_text(submission.received_at),
            replies=replies_for(submission),
            additions=[f for f in follow_ups if f.author == "submitter"],
            local_text=site.datetime_text,
            form=form,
            limits=upload_limits(),
        ),
        status,
    )


@bp.get("/track/status")
def track_status() -> Any:
    submission = _tracked_submission()
    if submission is None:
        flash(_("查询已超时或尚未验证，请重新输入回执编号和查询密码。"), "error")
        return redirect(url_for(".track"), code=303)
    response = make_response(_render_status(submission, FollowUpForm()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/track/follow-up")
@limiter.limit(_submit_limit)
def track_follow_up() -> Any:
    submission = _tracked_submission()
    if submission is None:
        flash(_("查询已超时，请重新输入回执编号和查询密码后再补充。"), "error")
        return redirect(url_for(".track"), code=303)
    form = FollowUpForm()
    if not form.validate():
        return _render_status(submission, form, 422)
    try:
        add_follow_up(
            submission,
            body=form.body.data or "",
            channel="web",
            attachments=incoming_files(form.uploaded_files()),
            author="submitter",
        )
    except SubmissionRejected as exc:
        unplaced = apply_service_errors(form, exc.errors, ("body", "attachments"))
        form.body.errors = [*form.body.errors, *unplaced]
        return _render_status(submission, form, 422)
    flash(_("补充内容已收到，工作人员会一并处理。"), "success")
    return redirect(url_for(".track_status"), code=303)


@bp.post("/track/end")
def track_end() -> Response:
    session.pop(TRACK_KEY, None)
    return redirect(url_for(".track"), code=303)
