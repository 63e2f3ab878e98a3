"""What /track shows of a case, to the holder of its secret: a public timeline (no staff names,
no internal notes or reasons except the question asked of the submitter), the deadline and any
pause, the linked findings, the submitter's own attachments, replies, follow-ups, and whether
the answer can be rated. A merged duplicate shows its original's progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Attachment, FollowUp, Submission
from portal.notices.models import Finding
from portal.triage import pauses, satisfaction
from portal.triage.case_models import Pause, Rating
from portal.triage.merged import for_merged, original_of
from portal.triage.models import StatusChange
from portal.triage.replies import replies_for
from portal.workdays import as_utc

# What the submitter reads. Spam looks like "received": a bot learns nothing.
PUBLIC_STATUS = {
    "received": _l("已收到，等待处理"),
    "held": _l("已收到，等待工作人员核验"),
    "spam": _l("已收到，等待处理"),
    "triaged": _l("已受理，正在分办"),
    "in_progress": _l("办理中"),
    "waiting": _l("等待您补充情况（答复期限暂停计算）"),
    "replied": _l("已答复"),
    "follow_up": _l("已收到您的追问，正在办理"),
    "reopened": _l("您对答复不满意，已提交督办重新办理"),
    "closed": _l("已办结"),
    "duplicate": _l("已与相同内容的意见合并办理"),
    "referred": _l("已转交有关部门办理"),
}
# Status changes the submitter sees in the timeline; the others (spam, held...) stay inside.
_SHOWN_CHANGES = frozenset(
    {"triaged", "in_progress", "waiting", "replied", "follow_up", "reopened", "closed", "referred"}
)


def status_text(status: str) -> str:
    return str(PUBLIC_STATUS.get(status, _l("办理中")))


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str  # received, status, reply, follow_up, question, rating
    title: str
    body: str | None = None


@dataclass
class CaseView:
    submission: Submission  # the one whose secret was given
    case: Submission  # whose progress is shown: the original of a merged duplicate
    merged: bool
    steps: list[Step] = field(default_factory=list)
    replies: list[PublicReply] = field(default_factory=list)
    additions: list[FollowUp] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    open_pause: Pause | None = None
    rating: Rating | None = None
    can_rate: bool = False

    @property
    def due_on(self) -> date | None:
        return self.case.reply_due_on if self.case.status in _DUE_SHOWN else None


_DUE_SHOWN = frozenset(
    {"received", "triaged", "in_progress", "waiting", "follow_up", "reopened", "held", "spam"}
)


def case_view(submission: Submission) -> CaseView:
    original = original_of(submission)
    case = original or submission
    own_follow_ups = [f for f in _follow_ups(submission) if f.author == "submitter"]
    view = CaseView(
        submission=submission,
        case=case,
        merged=original is not None,
        replies=_replies(submission, case),
        additions=own_follow_ups,
        findings=case.findings,
        attachments=[a for a in submission.attachments if _own(a, own_follow_ups)],
        pauses=pauses.pauses_of(case),
        open_pause=pauses.open_pause(case) if case.status == "waiting" else None,
        rating=satisfaction.latest_rating(submission),
        can_rate=satisfaction.can_rate(submission),
    )
    view.steps = _steps(submission, case, view)
    return view


@dataclass(frozen=True)
class PublicReply:
    at: datetime
    body: str


def _replies(submission: Submission, case: Submission) -> list[PublicReply]:
    """A duplicate's own replies are the copies of the original's answers; merged after them,
    it reads the original's, without the original submitter's contact details."""
    own = replies_for(submission)
    if own or case is submission:
        return [PublicReply(r.created_at, r.body) for r in own]
    return [PublicReply(r.created_at, for_merged(r.body, case)) for r in replies_for(case)]


def _own(attachment: Attachment, own: list[FollowUp]) -> bool:
    """The submission's own files and those of the submitter's follow-ups (never a held mail's)."""
    return attachment.follow_up_id is None or attachment.follow_up_id in {f.id for f in own}


def _follow_ups(submission: Submission) -> list[FollowUp]:
    return list(
        db.session.scalars(
            select(FollowUp).where(FollowUp.submission_id == submission.id).order_by(FollowUp.at)
        )
    )


def _steps(submission: Submission, case: Submission, view: CaseView) -> list[Step]:
    steps = [Step(submission.received_at, "received", _("收到您的意见"))]
    if view.merged:
        merged_at = db.session.scalar(
            select(StatusChange.at)
            .where(StatusChange.submission_id == submission.id, StatusChange.new == "duplicate")
            .order_by(StatusChange.id.desc())
            .limit(1)
        )
        if merged_at is not None:
            steps.append(Step(merged_at, "status", _("与相同内容的意见合并办理")))
    changes = db.session.scalars(
        select(StatusChange).where(StatusChange.submission_id == case.id).order_by(StatusChange.id)
    )
    for change in changes:
        if change.new in _SHOWN_CHANGES and change.new != "waiting":
            steps.append(Step(change.at, "status", status_text(change.new)))
    for pause in view.pauses:
        steps.append(Step(pause.asked_at, "question", _("工作人员请您补充情况"), pause.question))
    steps += [Step(r.at, "reply", _("答复")) for r in view.replies]
    steps += [Step(f.at, "follow_up", _("您补充了情况")) for f in view.additions]
    for rating in db.session.scalars(
        select(Rating).where(Rating.submission_id == submission.id).order_by(Rating.id)
    ):
        steps.append(
            Step(rating.at, "rating", _("您的评价：%(r)s", r=satisfaction.label(rating.rating)))
        )
    steps.sort(key=lambda s: as_utc(s.at))
    return steps


def template_context(view: CaseView) -> dict[str, Any]:
    return {
        "view": view,
        "ratings": [(r, satisfaction.label(r)) for r in satisfaction.RATINGS],
        "rating_label": satisfaction.label,
    }
