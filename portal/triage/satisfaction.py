"""好差评: the submitter rates the answer (on /track, by a signed link in the reply mail, or by
staff for a phone or letter answer). 不满意 reopens the case for a supervisor, with its own
deadline (ESCALATION_WORKDAYS). ``aggregate`` is the pure count per finding and per staff member
for the dashboard and the ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.triage import case_links

if TYPE_CHECKING:
    from portal.intake.models import Submission
    from portal.triage.case_models import Rating

RATINGS: tuple[str, ...] = ("satisfied", "basically_satisfied", "unsatisfied")
RATING_LABELS: dict[str, str] = {
    "satisfied": _l("满意"),
    "basically_satisfied": _l("基本满意"),
    "unsatisfied": _l("不满意"),
}
SOURCES = ("track", "email", "staff")
COMMENT_MAX = 1000
RATABLE_STATUSES = frozenset({"replied", "closed"})
LINK_SALT = "case-rating"


class RatingError(ValueError):
    """A rating that cannot be recorded; the message is for people, in Chinese."""


def label(rating: str | None) -> str:
    return str(RATING_LABELS.get(rating or "", rating or ""))


# --- aggregation (pure) ----------------------------------------------------------------------


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def satisfied_share(self) -> float | None:
        """满意率: satisfied and basically satisfied among all ratings (None without any)."""
        if not self.total:
            return None
        return (self.counts["satisfied"] + self.counts["basically_satisfied"]) / self.total


def aggregate(rows: Iterable[tuple[str, str]]) -> dict[str, Tally]:
    """``rows`` of (key, rating) -> a Tally per key, keys in first-seen order. Unknown ratings
    are ignored."""
    out: dict[str, Tally] = {}
    for key, rating in rows:
        if rating in RATINGS:
            out.setdefault(key, Tally()).counts[rating] += 1
    return out


# --- recording -------------------------------------------------------------------------------


def latest_rating(submission: Submission) -> Rating | None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.triage.case_models import Rating

    return db.session.scalar(
        select(Rating)
        .where(Rating.submission_id == submission.id)
        .order_by(Rating.id.desc())
        .limit(1)
    )


def contract_value(submission: Submission) -> str | None:
    """The "satisfaction" field of `submissions show --json`: the latest rating or None."""
    rating = latest_rating(submission)
    return rating.rating if rating is not None else None


def can_rate(submission: Submission) -> bool:
    """After an answer, once per answer: a newer reply may be rated again. A merged citizen
    rates the copy of the original's answer they received, while the original is answered."""
    from portal.triage.merged import original_of
    from portal.triage.replies import replies_for

    case = original_of(submission) or submission
    if case.status not in RATABLE_STATUSES:
        return False
    replies = replies_for(submission)
    if not replies:
        return False
    rating = latest_rating(submission)
    return rating is None or (rating.reply_id or 0) < replies[-1].id


def record(
    submission: Submission,
    rating: str,
    *,
    comment: str | None,
    source: str,
    actor: str,
    today: date,
) -> Rating:
    """Store the rating (audited; never commits). 不满意 moves the case to "reopened" with an
    escalation deadline and tells every supervisor through the outbox."""
    from flask import current_app
    from flask_babel import gettext as _

    from portal import audit
    from portal.extensions import db
    from portal.intake.sanitize import normalise_text
    from portal.triage import workflow
    from portal.triage.case_models import Rating
    from portal.triage.merged import original_of
    from portal.triage.replies import replies_for
    from portal.workdays import WorkCalendar

    if rating not in RATINGS or source not in SOURCES:
        raise RatingError(_("请选择满意、基本满意或不满意。"))
    if not can_rate(submission):
        raise RatingError(_("这件意见目前没有可以评价的答复，或已经评价过。"))
    text = normalise_text(comment or "").strip()[:COMMENT_MAX] or None
    reply = replies_for(submission)[-1]
    row = Rating(
        submission_id=submission.id,
        reply_id=reply.id,
        staff_id=reply.author,
        rating=rating,
        comment=text,
        source=source,
        actor=actor,
    )
    if rating == "unsatisfied":
        calendar = WorkCalendar.from_config(current_app.config)
        row.escalation_due_on = calendar.add_workdays(
            today, int(current_app.config.get("ESCALATION_WORKDAYS", 5))
        )
        # A merged citizen's 不满意 reopens the case everyone's answer came from.
        case = original_of(submission) or submission
        workflow.change_status(case, "reopened", actor=actor, reason=text or "不满意")
        case.reply_due_on = row.escalation_due_on
    db.session.add(row)
    db.session.flush()
    audit.record(
        "submission.rating",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "rating": rating, "source": source},
        actor=actor,
    )
    if rating == "unsatisfied":
        _tell_supervisors(submission, row)
    return row


def _tell_supervisors(submission: Submission, row: Rating) -> None:
    from flask import current_app
    from sqlalchemy import select

    from portal.extensions import db
    from portal.outbox import enqueue
    from portal.staff.models import User

    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    due = row.escalation_due_on.isoformat() if row.escalation_due_on else "—"
    for user in db.session.scalars(
        select(User).where(User.role == "supervisor", User.active.is_(True)).order_by(User.id)
    ):
        enqueue(
            to=user.email,
            subject=f"[不满意重办] {submission.code} 请于{due}前督办",
            text=f"群众对意见 {submission.code} 的答复评价为“不满意”，案件已重新打开。\n"
            f"督办期限：{due}\n评价说明：{row.comment or '（无）'}\n"
            f"{base}/staff/submissions/{submission.code}\n",
            submission_id=submission.id,
            submission_code=submission.code,
            kind="escalation",
        )


# --- the signed link in the reply mail --------------------------------------------------------


def link_token(submission: Submission) -> str:
    return case_links.make_token(submission, LINK_SALT)


def submission_for_token(token: str) -> Submission | None:
    """The submission a rating link names, or None when forged or expired (CASE_LINK_DAYS)."""
    return case_links.submission_for(token, LINK_SALT)


# --- the ledger dashboard ---------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    name: str
    tally: Tally


def dashboard_summary(
    office_ids: tuple[int, ...] | None, notice_id: int | None = None
) -> dict[str, list[SummaryRow]]:
    """Ratings per finding ("findings") and per staff member who wrote the rated answer
    ("staff"), of ``office_ids`` (None: every office), each rating counted once per finding it
    concerns. The dashboard's template calls it (template global satisfaction_summary)."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission, SubmissionFinding
    from portal.notices.models import Finding
    from portal.staff.models import User
    from portal.triage.case_models import Rating

    base = select(Rating.rating).join(Submission, Submission.id == Rating.submission_id)
    if office_ids is not None:
        base = base.where(Submission.office_id.in_(office_ids))
    if notice_id is not None:
        base = base.where(Submission.notice_id == notice_id)
    by_finding = db.session.execute(
        base.add_columns(Finding.number, Finding.title)
        .join(SubmissionFinding, SubmissionFinding.submission_id == Submission.id)
        .join(Finding, Finding.id == SubmissionFinding.finding_id)
        .order_by(Finding.number, Rating.id)
    ).all()
    by_staff = db.session.execute(
        base.add_columns(User.display_name, User.email)
        .join(User, User.id == Rating.staff_id)
        .order_by(User.id, Rating.id)
    ).all()
    findings = aggregate((f"{r.number}. {r.title}", r.rating) for r in by_finding)
    staff = aggregate((r.display_name or r.email, r.rating) for r in by_staff)
    return {
        "findings": [SummaryRow(k, t) for k, t in findings.items()],
        "staff": [SummaryRow(k, t) for k, t in staff.items()],
    }
