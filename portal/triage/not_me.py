"""“This was not me”: a person whose name or contact was used on an opinion they did not send
says so (a signed link in the acknowledgement mail, or staff on their behalf). The submission is
flagged for review and its personal data hidden — not even masked, not revealed, never mailed —
until staff decide: "upheld" erases the contact data for good, "dismissed" shows it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.triage import case_links

if TYPE_CHECKING:
    from portal.intake.models import Submission
    from portal.triage.case_models import IdentityDispute

LINK_SALT = "case-not-me"
NOTE_MAX = 1000
DECISIONS = ("upheld", "dismissed")
HIDDEN = _l("（身份有争议，个人信息已隐藏）")
CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email", "contact_address")


def open_dispute(submission: Submission) -> IdentityDispute | None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.triage.case_models import IdentityDispute

    return db.session.scalar(
        select(IdentityDispute)
        .where(IdentityDispute.submission_id == submission.id, IdentityDispute.state == "open")
        .limit(1)
    )


def is_disputed(submission: Submission) -> bool:
    return open_dispute(submission) is not None


def dispute(
    submission: Submission, *, source: str, actor: str, note: str | None = None
) -> IdentityDispute:
    """Flag ``submission`` (audited, never commits); a second claim while one is open returns
    the open one."""
    from portal import audit
    from portal.extensions import db
    from portal.intake.sanitize import normalise_text
    from portal.triage.case_models import IdentityDispute

    existing = open_dispute(submission)
    if existing is not None:
        return existing
    row = IdentityDispute(
        submission_id=submission.id,
        source=source,
        actor=actor,
        note=normalise_text(note or "").strip()[:NOTE_MAX] or None,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "submission.identity_dispute",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "source": source},
        actor=actor,
    )
    return row


def decide(row: IdentityDispute, decision: str, *, actor: str) -> None:
    """Staff's decision (audited, never commits). Upheld: the contact data is erased and the
    submission kept as anonymous; dismissed: the data is shown again."""
    from portal import audit
    from portal.workdays import utcnow

    if decision not in DECISIONS or row.state != "open":
        raise ValueError(decision)
    row.state = decision
    row.decided_by = actor
    row.decided_at = utcnow()
    if decision == "upheld":
        submission = row.submission
        for name in CONTACT_FIELDS:
            setattr(submission, name, None)
        submission.anonymous = True
    audit.record(
        "submission.identity_decision",
        object_type="submission",
        object_id=row.submission_id,
        details={"code": row.submission.code, "decision": decision},
        actor=actor,
    )


def contract_sender_email(submission: Submission) -> str | None:
    """The "sender_email" of `submissions show --json` and the exports: hidden while disputed
    (asked only when there is an address to hide)."""
    if submission.sender_email is None or is_disputed(submission):
        return None
    return submission.sender_email


# --- the signed link in the acknowledgement mail ----------------------------------------------


def link_token(submission: Submission) -> str:
    return case_links.make_token(submission, LINK_SALT)


def link_url(submission: Submission) -> str:
    from flask import current_app

    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}/track/not-me/{link_token(submission)}"


def submission_for_token(token: str) -> Submission | None:
    """The submission a "not me" link names, or None when forged or expired."""
    return case_links.submission_for(token, LINK_SALT)
