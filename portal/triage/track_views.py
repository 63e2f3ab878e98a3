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
from portal.intake.models import Submission
from portal.intake.service import SubmissionRejected, check_secret, find_by_code
from portal.triage.case_forms import PhoneTrackForm, RatingForm
from portal.triage.track_case import case_view, status_text, template_context

bp = Blueprint("track", __name__)

TRACK_SECONDS = 30 * 60  # how long a code + secret check keeps /track open in this browser
TRACK_KEY = "track.track"


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
            open_case(submission)
            return redirect(url_for(".track_status"), code=303)
        # One message for both cases: the page must not reveal which codes exist.
        form.secret.errors = [_("回执编号或查询密码不正确，请核对后重试。")]
    phone_form = PhoneTrackForm()
    if request.method == "GET":
        # The QR code on a slip or letter opens /track?code=…: the code is filled in, only the
        # secret (or the phone number) is left to type.
        code = (request.args.get("code") or "").strip()[:40]
        form.code.data = form.code.data or code
        phone_form.code.data = phone_form.code.data or code
    status = 422 if request.method == "POST" else 200
    return render_template("triage/track.html", form=form, phone_form=phone_form), status


def _render_status(submission: Submission, form: FollowUpForm, status: int = 200) -> Any:
    view = case_view(submission)
    case = view.case
    return (
        render_template(
            "triage/track_status.html",
            submission=submission,
            status_text=status_text(case.status),
            office_name=case.office.name if case.office else None,
            received_text=site.datetime_text(submission.received_at),
            replies=view.replies,
            additions=view.additions,
            local_text=site.datetime_text,
            date_text=site.date_text,
            form=form,
            rating_form=RatingForm(),
            limits=upload_limits(),
            **template_context(view),
        ),
        status,
    )


def open_case(submission: Submission) -> None:
    """This browser proved it may see ``submission`` for the next 30 minutes."""
    session[TRACK_KEY] = {"id": submission.id, "until": time.time() + TRACK_SECONDS}


def tracked_submission() -> Submission | None:
    return _tracked_submission()


def render_status(submission: Submission, status: int = 200) -> Any:
    return _render_status(submission, FollowUpForm(), status)


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
    answers_question = submission.status == "waiting"
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
    if answers_question:
        flash(_("您的补充已收到，答复期限恢复计算。"), "success")
    else:
        flash(_("补充内容已收到，工作人员会一并处理。"), "success")
    return redirect(url_for(".track_status"), code=303)


@bp.post("/track/end")
def track_end() -> Response:
    session.pop(TRACK_KEY, None)
    return redirect(url_for(".track"), code=303)
