"""等待补充: staff ask the submitter a question and the reply clock stops until the answer.

``shifted_due`` is the pure rule: the deadline moves by the working days the clock stood still
(a holiday inside the pause does not count). ``ask`` and ``resume`` apply it to a submission in
the caller's transaction (audited, never commit).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from portal.workdays import WorkCalendar

if TYPE_CHECKING:
    from portal.intake.models import FollowUp, Submission
    from portal.staff.models import User
    from portal.triage.case_models import Pause

QUESTION_MAX = 2000


def shifted_due(
    due: date | None, asked_on: date, resumed_on: date, calendar: WorkCalendar
) -> tuple[int, date | None]:
    """(working days paused, the new reply deadline): the working days after ``asked_on`` up to
    and including ``resumed_on``, added to ``due``."""
    paused = calendar.workdays_between(asked_on, resumed_on)
    return paused, calendar.add_workdays(due, paused) if due is not None and paused else due


def open_pause(submission: Submission) -> Pause | None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.triage.case_models import Pause

    return db.session.scalar(
        select(Pause)
        .where(Pause.submission_id == submission.id, Pause.resumed_on.is_(None))
        .order_by(Pause.id.desc())
        .limit(1)
    )


def pauses_of(submission: Submission) -> list[Pause]:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.triage.case_models import Pause

    return list(
        db.session.scalars(
            select(Pause).where(Pause.submission_id == submission.id).order_by(Pause.id)
        )
    )


def ask(submission: Submission, question: str, *, by: User, today: date) -> Pause:
    """Stop the clock: status "waiting", the question stored (shown on /track) and mailed when
    the submitter gave an address. Raises TransitionError / ValueError, nothing written."""
    from flask import current_app
    from flask_babel import gettext as _

    from portal import audit
    from portal.extensions import db
    from portal.intake.sanitize import normalise_text
    from portal.outbox import enqueue
    from portal.triage import workflow
    from portal.triage.case_models import Pause

    text = normalise_text(question or "").strip()
    if not text:
        raise ValueError(_("请填写需要群众补充的问题。"))
    if len(text) > QUESTION_MAX:
        raise ValueError(_("问题不能超过%(n)s字。", n=QUESTION_MAX))
    workflow.check_transition(submission.status, "waiting")
    workflow.change_status(submission, "waiting", actor=by.actor, reason=text)
    pause = Pause(submission_id=submission.id, question=text, asked_by=by.actor, asked_on=today)
    db.session.add(pause)
    db.session.flush()
    if submission.email:
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        enqueue(
            to=submission.email,
            subject=f"[#{submission.code}] 请补充情况",
            text=f"您好！关于您的意见（回执编号 {submission.code}），我们需要您补充以下情况：\n\n"
            f"{text}\n\n请登录 {base}/track ，用回执编号和查询密码打开办理进度后填写补充内容。"
            "在您补充之前，答复期限暂停计算。\n",
            submission_id=submission.id,
            submission_code=submission.code,
            kind="question",
        )
    audit.record(
        "submission.pause",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "pause": pause.id},
        actor=by.actor,
    )
    return pause


def resume(
    submission: Submission,
    *,
    today: date,
    calendar: WorkCalendar,
    actor: str,
    follow_up: FollowUp | None = None,
) -> Pause | None:
    """Restart the clock (the submitter answered, or staff stop waiting): status back to
    in_progress and the deadline moved by the paused working days. None when there was no
    pause to end."""
    from portal import audit
    from portal.triage import workflow

    if submission.status != "waiting":
        return None
    pause = open_pause(submission)
    if pause is None:  # set "waiting" by the plain status form: no question, no dates to move
        workflow.change_status(submission, "in_progress", actor=actor)
        return None
    paused, new_due = shifted_due(submission.reply_due_on, pause.asked_on, today, calendar)
    pause.resumed_on = today
    pause.paused_workdays = paused
    pause.due_before = submission.reply_due_on
    pause.due_after = new_due
    pause.follow_up_id = follow_up.id if follow_up is not None else None
    submission.reply_due_on = new_due
    workflow.change_status(submission, "in_progress", actor=actor)
    audit.record(
        "submission.resume",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "pause": pause.id, "workdays": paused},
        actor=actor,
    )
    return pause
