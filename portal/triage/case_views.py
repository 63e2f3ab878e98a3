"""Staff actions of the case loop on the detail page (forms in templates/triage/_case_state.html):
ask the submitter a question (等待补充, the clock pauses), stop waiting, record the submitter's
rating of a phone or letter answer, and "this was not me" (flag, then decide). Triagers of the
submission's office (and admins) only; every action is audited by its service function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.intake.models import Submission
from portal.intake.service import find_by_code
from portal.staff.auth import roles_required
from portal.staff.scope import can
from portal.triage import not_me, pauses, satisfaction, workflow
from portal.triage.case_forms import AskForm, NotMeForm, RatingForm
from portal.triage.views import ACT_ROLES, READ_ROLES, bp, load
from portal.workdays import WorkCalendar, local_today

SECTION = "case-state"
_ERRORS = (ValueError, workflow.TransitionError, satisfaction.RatingError)


def _done(submission: Submission, action: Callable[[], object], message: str) -> Response:
    try:
        action()
    except _ERRORS as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("triage.detail", code=submission.code) + f"#{SECTION}", code=303)


def _first_error(form: Any) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return _("请检查填写的内容。")


@bp.post("/submissions/<code>/ask", endpoint="case_ask")
@roles_required(*ACT_ROLES)
def ask(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = AskForm()

    def act() -> None:
        if not form.validate():
            raise ValueError(_first_error(form))
        pauses.ask(submission, form.question.data or "", by=current_user, today=local_today())

    return _done(submission, act, _("已请群众补充，答复期限暂停计算。"))


@bp.post("/submissions/<code>/resume", endpoint="case_resume")
@roles_required(*ACT_ROLES)
def resume(code: str) -> Response:
    """Stop waiting without an answer (the submitter replied by phone, or never will)."""
    submission = load(code, *ACT_ROLES)

    def act() -> None:
        if submission.status != "waiting":
            raise ValueError(_("这件意见没有在等待补充。"))
        pauses.resume(
            submission,
            today=local_today(),
            calendar=WorkCalendar.from_config(current_app.config),
            actor=current_user.actor,
        )

    return _done(submission, act, _("答复期限已恢复计算。"))


@bp.post("/submissions/<code>/rating", endpoint="case_rating")
@roles_required(*ACT_ROLES)
def rating(code: str) -> Response:
    """The submitter's verdict, told on the phone or in a letter, recorded by staff."""
    submission = load(code, *ACT_ROLES)
    form = RatingForm()

    def act() -> None:
        if not form.validate():
            raise ValueError(_first_error(form))
        satisfaction.record(
            submission,
            form.rating.data or "",
            comment=form.comment.data,
            source="staff",
            actor=current_user.actor,
            today=local_today(),
        )

    return _done(submission, act, _("已记录群众评价。"))


@bp.post("/submissions/<code>/not-me", endpoint="case_not_me")
@roles_required(*ACT_ROLES)
def flag_not_me(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    form = NotMeForm()

    def act() -> None:
        if not form.validate():
            raise ValueError(_first_error(form))
        not_me.dispute(submission, source="staff", actor=current_user.actor, note=form.note.data)

    return _done(submission, act, _("已标记为身份争议，个人信息在核查结束前隐藏。"))


@bp.post("/submissions/<code>/not-me/<decision>", endpoint="case_not_me_decide")
@roles_required(*ACT_ROLES)
def decide_not_me(code: str, decision: str) -> Response:
    submission = load(code, *ACT_ROLES)

    def act() -> None:
        row = not_me.open_dispute(submission)
        if row is None or decision not in not_me.DECISIONS:
            raise ValueError(_("这件意见没有待核查的身份争议。"))
        not_me.decide(row, decision, actor=current_user.actor)

    message = (
        _("已确认身份被冒用，联系方式已删除。")
        if decision == "upheld"
        else _("已驳回身份争议，个人信息恢复显示。")
    )
    return _done(submission, act, message)


@bp.get("/lookup", endpoint="case_lookup")
@roles_required(*READ_ROLES)
def lookup() -> Response:
    """A caller reads out the receipt code: open the case however it was typed (lower case, no
    hyphen, O for 0); a code of an office the user cannot read is "not found" like a wrong one."""
    submission = find_by_code(request.args.get("code") or "")
    if submission is None or not can(submission.office_id):
        flash(_("找不到该回执编号，请核对后重试。"), "error")
        return redirect(url_for("triage.queue"), code=303)
    return redirect(url_for("triage.detail", code=submission.code), code=303)


def case_state_context(submission: Submission) -> dict[str, Any]:
    """What templates/triage/_case_state.html needs (registered as a template global)."""
    return {
        "submission": submission,
        "open_pause": pauses.open_pause(submission) if submission.status == "waiting" else None,
        "pauses": pauses.pauses_of(submission),
        "may_ask": "waiting" in workflow.allowed_targets(submission.status),
        "may_rate": satisfaction.can_rate(submission),
        "rating": satisfaction.latest_rating(submission),
        "rating_label": satisfaction.label,
        "dispute": not_me.open_dispute(submission),
        "ask_form": AskForm(),
        "rating_form": RatingForm(),
        "not_me_form": NotMeForm(),
    }
