"""/track's case-loop pages: open a case with code + the phone number given (when the secret is
lost), rate the answer (in the open case, or from the reply mail's signed link), say "this was
not me" (from the acknowledgement mail's signed link), and fetch one's own attachments."""

from __future__ import annotations

import hmac
import re
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal import audit
from portal.extensions import db, limiter
from portal.intake.attachments import send_attachment_response
from portal.intake.forms import TrackForm
from portal.intake.models import Attachment
from portal.intake.service import check_secret, find_by_code
from portal.triage import not_me, satisfaction
from portal.triage.case_forms import NotMeForm, PhoneTrackForm, RatingForm
from portal.triage.track_case import case_view
from portal.triage.track_views import bp, open_case, render_status, tracked_submission
from portal.workdays import local_today


def _track_limit() -> str:
    return current_app.config["RATELIMIT_TRACK"]


def _digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")


def phone_matches(given: str, stored: str | None) -> bool:
    """The same number, whatever the spacing, dashes or +86 prefix; constant time."""
    a, b = _digits(given), _digits(stored)
    a = a[2:] if a.startswith("86") and len(a) == 13 else a
    b = b[2:] if b.startswith("86") and len(b) == 13 else b
    return bool(b) and len(a) >= 7 and hmac.compare_digest(a, b)


@bp.post("/track/phone")
@limiter.limit(_track_limit)
def track_by_phone() -> Any:
    form = PhoneTrackForm()
    if form.validate():
        submission = find_by_code(form.code.data or "")
        # The hash of a dummy secret costs the same whether the code exists or not, so the
        # answer's timing tells nothing about which codes exist.
        check_secret(None, form.phone.data or "")
        stored = submission.contact_phone if submission is not None else None
        ok = submission is not None and phone_matches(form.phone.data or "", stored)
        audit.record(
            "track.open_by_phone",
            object_type="submission",
            object_id=submission.id if submission is not None else None,
            details={"ok": ok},
            actor="public",
        )
        db.session.commit()
        if ok and submission is not None:
            open_case(submission)
            return redirect(url_for(".track_status"), code=303)
        form.phone.errors = [_("回执编号或电话号码不正确，请核对后重试。")]
    html = render_template("triage/track.html", form=TrackForm(), phone_form=form)
    return html, 422


@bp.post("/track/rate")
def track_rate() -> Any:
    submission = tracked_submission()
    if submission is None:
        flash(_("查询已超时，请重新输入回执编号和查询密码后再评价。"), "error")
        return redirect(url_for(".track"), code=303)
    form = RatingForm()
    if not form.validate():
        flash(_("请选择满意、基本满意或不满意。"), "error")
        return render_status(submission, 422)
    try:
        satisfaction.record(
            submission,
            form.rating.data or "",
            comment=form.comment.data,
            source="track",
            actor="submitter",
            today=local_today(),
        )
    except satisfaction.RatingError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_status(submission, 409)
    db.session.commit()
    flash(_("感谢您的评价。"), "success")
    return redirect(url_for(".track_status"), code=303)


@bp.route("/track/rate/<token>", methods=["GET", "POST"])
@limiter.limit(_track_limit, methods=["POST"])
def track_rate_link(token: str) -> Any:
    submission = satisfaction.submission_for_token(token)
    if submission is None:
        return render_template("triage/track_link.html", expired=True), 404
    form = RatingForm()
    done = None
    if form.validate_on_submit():
        try:
            satisfaction.record(
                submission,
                form.rating.data or "",
                comment=form.comment.data,
                source="email",
                actor="submitter",
                today=local_today(),
            )
            db.session.commit()
            done = _("感谢您的评价。")
        except satisfaction.RatingError as exc:
            db.session.rollback()
            form.rating.errors = [str(exc)]
    view = case_view(submission)
    status = 422 if form.errors else 200
    return (
        render_template(
            "triage/track_link.html",
            mode="rate",
            submission=submission,
            form=form,
            done=done,
            can_rate=view.can_rate,
            rating=view.rating,
            rating_label=satisfaction.label,
        ),
        status,
    )


@bp.route("/track/not-me/<token>", methods=["GET", "POST"])
@limiter.limit(_track_limit, methods=["POST"])
def track_not_me(token: str) -> Any:
    submission = not_me.submission_for_token(token)
    if submission is None:
        return render_template("triage/track_link.html", expired=True), 404
    form = NotMeForm()
    done = None
    if form.validate_on_submit():
        not_me.dispute(submission, source="email", actor="public", note=form.note.data)
        db.session.commit()
        done = _("已收到。这条意见已标记为待核查，其中的个人信息在核查结束前不会显示或使用。")
    return render_template(
        "triage/track_link.html", mode="not_me", submission=submission, form=form, done=done
    )


@bp.get("/track/attachments/<int:attachment_id>")
def track_attachment(attachment_id: int) -> Response:
    """One of the submitter's own files, only to the browser that opened the case."""
    submission = tracked_submission()
    if submission is None:
        abort(404)
    view = case_view(submission)
    item = next((a for a in view.attachments if a.id == attachment_id), None)
    if item is None or db.session.get(Attachment, attachment_id) is None:
        abort(404)
    try:
        response = send_attachment_response(item)
    except FileNotFoundError:
        abort(404)
    audit.record(
        "attachment.download",
        object_type="submission",
        object_id=submission.id,
        details={"attachment": item.id, "by": "submitter"},
        actor="submitter",
    )
    db.session.commit()
    response.headers["Cache-Control"] = "private, no-store"
    return response
