"""The findings a submission concerns: the notice's Router suggests them, staff confirm or remove.

Each staff-confirmed link is also a learning example for its notice's Router, so the Router is
rebuilt when the notice changes or learns; otherwise it comes from the per-notice cache.
Functions that write do so with an audit event in the caller's transaction and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from portal import audit
from portal.caching import notice_cache
from portal.extensions import db
from portal.intake.models import Submission, SubmissionFinding
from portal.notices.models import Finding, Notice
from portal.triage.actions import ActionError
from portal.triage.concepts import load_concepts
from portal.triage.models import FindingDismissal
from portal.triage.routing import FindingDoc, Router, Suggestion
from portal.workdays import utcnow

ROUTER_CACHE = "routers"


def submission_text(subject: str | None, body: str | None) -> str:
    return "\n".join(p for p in (subject, body) if p)


def finding_docs(notice: Notice) -> list[FindingDoc]:
    """What the Router reads of each active finding: category, title, description, measures."""
    docs = []
    for finding in notice.findings:
        if not finding.active:
            continue
        parts = [finding.category.title if finding.category else "", finding.title]
        parts += [finding.description or ""] + [m.text for m in finding.measures]
        docs.append(FindingDoc(finding.number, finding.title, "\n".join(p for p in parts if p)))
    return docs


def _confirmed_examples(notice: Notice) -> list[tuple[int, str]]:
    """(finding number, submission text) of every staff-confirmed link in this notice."""
    rows = db.session.execute(
        select(Finding.number, Submission.subject, Submission.body)
        .join(SubmissionFinding, SubmissionFinding.finding_id == Finding.id)
        .join(Submission, Submission.id == SubmissionFinding.submission_id)
        .where(
            Finding.notice_id == notice.id,
            SubmissionFinding.source == "staff",
            SubmissionFinding.confirmed.is_(True),
        )
        .order_by(SubmissionFinding.id)
    )
    return [(r.number, submission_text(r.subject, r.body)) for r in rows]


def _build_router(notice: Notice, examples: list[tuple[int, str]]) -> Router:
    by_number: dict[int, list[str]] = {}
    for number, text in examples:
        by_number.setdefault(number, []).append(text)
    docs = finding_docs(notice)
    known = {d.number for d in docs}
    # The office's name and the notice title tell the Router which bodies are its own business
    # (a hospital's notice never refers complaints about its doctors elsewhere).
    owner = "\n".join(p for p in (notice.office.name if notice.office else "", notice.title) if p)
    return Router(docs, {n: t for n, t in by_number.items() if n in known}, owner=owner)


def router_for(notice: Notice) -> Router:
    """The notice's Router, current for its version and the examples staff have confirmed."""
    examples = _confirmed_examples(notice)
    key = (notice.id, notice.version, len(examples))
    cache = notice_cache(ROUTER_CACHE)
    router: Router | None = cache.get(key)
    if router is None:
        router = _build_router(notice, examples)
        # Older versions of this notice will never be asked for again.
        cache.drop(lambda k: not (isinstance(k, tuple) and k[0] == notice.id))
        cache.put(key, router)
    return router


@dataclass(frozen=True)
class FindingRow:
    """A finding on the detail page: linked (``link``) or only suggested by the Router.

    ``score`` is kept for the learning form only; staff see ``strength`` and ``reasons``."""

    finding: Finding
    score: float | None
    link: SubmissionFinding | None
    strength: str | None = None  # strong, medium, weak (None: not suggested now)
    reasons: tuple[str, ...] = ()  # the words or concepts that matched

    @property
    def confirmed(self) -> bool:
        return bool(self.link and self.link.confirmed)


def dismissed_ids(submission: Submission) -> set[int]:
    """Ids of the findings staff dismissed as suggestions for this submission."""
    return set(
        db.session.scalars(
            select(FindingDismissal.finding_id).where(
                FindingDismissal.submission_id == submission.id
            )
        )
    )


def finding_rows(submission: Submission, limit: int = 5) -> list[FindingRow]:
    """Linked findings first, then the Router's suggestions above its threshold, less those
    staff dismissed for this submission."""
    notice = submission.notice
    suggested: dict[int, Suggestion] = {}
    if notice is not None:
        router = router_for(notice)
        for suggestion in router.suggest(
            submission_text(submission.subject, submission.body), limit
        ):
            suggested[suggestion.number] = suggestion
    rows = []
    for link in sorted(submission.finding_links, key=lambda link: link.finding.number):
        found = suggested.pop(link.finding.number, None)
        rows.append(_row(link.finding, found, link))
    if notice is not None and suggested:
        dismissed = dismissed_ids(submission)
        by_number = {f.number: f for f in notice.findings if f.id not in dismissed}
        rows += [_row(by_number[n], s, None) for n, s in suggested.items() if n in by_number]
    return rows


def _row(finding: Finding, found: Suggestion | None, link: SubmissionFinding | None) -> FindingRow:
    if found is None:
        return FindingRow(finding, link.score if link else None, link)
    return FindingRow(finding, found.score, link, found.strength, found.reasons)


def confirm_finding(
    submission: Submission, finding: Finding, *, actor: str, score: float | None = None
) -> SubmissionFinding:
    """A staff-confirmed link (also a learning example for the notice's Router)."""
    if finding.notice_id != submission.notice_id:
        raise ActionError("该问题不属于本意见所对应的公示。")
    link = next((x for x in submission.finding_links if x.finding_id == finding.id), None)
    if link is None:
        link = SubmissionFinding(finding=finding, score=score)
        submission.finding_links.append(link)
    link.source, link.confirmed, link.by, link.at = "staff", True, actor, utcnow()
    db.session.flush()
    audit.record(
        "triage.finding.confirm",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "finding": finding.number, "score": score},
        actor=actor,
    )
    return link


def remove_finding(submission: Submission, finding: Finding, *, actor: str) -> None:
    db.session.execute(
        delete(SubmissionFinding).where(
            SubmissionFinding.submission_id == submission.id,
            SubmissionFinding.finding_id == finding.id,
        )
    )
    db.session.expire(submission, ["finding_links"])
    audit.record(
        "triage.finding.remove",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "finding": finding.number},
        actor=actor,
    )


@dataclass(frozen=True)
class ReferralSuggestion:
    """The Router's advice to pass a submission on (转办): to which kind of body, and why."""

    body_kind: str
    body_label: str  # what the referral records as the receiving body
    reasons: tuple[str, ...]


def referral_suggestion(submission: Submission) -> ReferralSuggestion | None:
    """The other body the submission's text is about, when its notice's Router names one."""
    if submission.notice is None:
        return None
    found = router_for(submission.notice).referral(
        submission_text(submission.subject, submission.body)
    )
    if found is None:
        return None
    try:
        body_label = load_concepts().label("body:" + found.body_kind)
    except KeyError:
        body_label = found.label
    return ReferralSuggestion(found.body_kind, body_label, tuple(found.reasons))


def dismiss_suggestion(submission: Submission, finding: Finding, *, actor: str) -> FindingDismissal:
    """Staff judged a suggestion wrong: it is no longer suggested for this submission."""
    if finding.notice_id != submission.notice_id:
        raise ActionError("该问题不属于本意见所对应的公示。")
    if any(link.finding_id == finding.id for link in submission.finding_links):
        raise ActionError(f"问题{finding.number}已关联本意见，如关联有误请点“移除”。")
    dismissal = db.session.scalar(
        select(FindingDismissal).where(
            FindingDismissal.submission_id == submission.id,
            FindingDismissal.finding_id == finding.id,
        )
    )
    if dismissal is not None:
        raise ActionError(f"问题{finding.number}的建议已被驳回。")
    dismissal = FindingDismissal(submission_id=submission.id, finding_id=finding.id, actor=actor)
    db.session.add(dismissal)
    db.session.flush()
    audit.record(
        "triage.suggestion.dismiss",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "finding": finding.number, "title": finding.title},
        actor=actor,
    )
    return dismissal
