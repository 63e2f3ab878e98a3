"""The printed referral letter (转办函) for a submission passed to another body.

/staff/intake/referrals/<code>        GET: the letter (and ?pdf) without the submitter's
                                      personal data: nothing decrypted, ready to print
/staff/intake/referrals/<code>/pdf    GET: the same as PDF
/staff/intake/referrals/<code>        POST (CSRF + reason, sudo mode): the letter with the
                                      submitter's contact details, when the referral needs them
                                      and the submitter agreed; audited as a personal-data view
/staff/intake/referrals/<code>/pdf    POST: the same as PDF

Why masked by default: a referral passes the matter to a body that can act on it, not the
person; PIPL asks for the least personal data needed. The receiving body contacts the
submitter through this office unless it must do so itself (e.g. a complaint it must verify),
and then only when the submitter left contact details and did not ask to stay anonymous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal import site
from portal.extensions import db
from portal.intake import offline
from portal.intake.models import CHANNEL_LABELS, Submission
from portal.intake.service import audit_personal_data_view
from portal.offices.service import letter_identity
from portal.printing import pdf_available, render_pdf
from portal.staff.auth import roles_required
from portal.staff.recent_auth import recent_auth_required
from portal.triage import referral_letter
from portal.triage.letter_views import LETTER_LOCALE, ROLES, bp
from portal.triage.models import Referral
from portal.triage.reveal import REASON_KEPT, REASON_MIN
from portal.triage.views import load
from portal.workdays import local_date, local_today

CONTACT_FIELDS = ["contact_name", "contact_phone", "contact_email", "contact_address"]


def _referral(submission: Submission) -> Referral:
    """The referral asked for (?referral=ID), else the latest; 404 when there is none."""
    wanted = request.values.get("referral", "")
    query = select(Referral).where(Referral.submission_id == submission.id)
    if wanted.isdigit():
        query = query.where(Referral.id == int(wanted))
    referral = db.session.scalars(query.order_by(Referral.id.desc())).first()
    if referral is None:
        abort(404)
    return referral


def _may_pass_contact(submission: Submission) -> bool:
    return referral_letter.may_pass_contact(
        anonymous=submission.anonymous,
        consented=submission.consent_at is not None,
        # Encrypted columns are read only to know whether there is anything to pass.
        has_contact=any(getattr(submission, name) for name in CONTACT_FIELDS),
    )


def _context(
    submission: Submission, referral: Referral, *, revealed: bool, reason: str = ""
) -> dict[str, Any]:
    identity = letter_identity(submission.office)
    with force_locale(LETTER_LOCALE):
        channel = str(CHANNEL_LABELS[submission.channel])
    text = submission.body if revealed else referral_letter.mask_contacts_in_text(submission.body)
    contact: dict[str, str | None] = {}
    if revealed:
        postcode, address = offline.split_address(submission.contact_address)
        contact = {
            "name": submission.contact_name,
            "phone": submission.contact_phone,
            "email": submission.email,
            "address": " ".join(p for p in (postcode, address) if p) or None,
        }
    return {
        "submission": submission,
        "referral": referral,
        **identity,
        "received_text": offline.chinese_date(local_date(submission.received_at)),
        "date_text": offline.chinese_date(local_today()),
        "channel_label": channel,
        "subject": submission.subject,
        "paragraphs": referral_letter.paragraphs(text),
        "findings": submission.findings,
        "contact": contact,
        "revealed": revealed,
        "may_pass_contact": _may_pass_contact(submission),
        "reason": reason,
        "reason_min": REASON_MIN,
        "pdf_available": pdf_available(),
    }


def _pdf(context: dict[str, Any]) -> Any:
    if not pdf_available():
        abort(501)
    html = render_template("triage/referral_pdf.html", **context)
    css = Path(current_app.static_folder or "") / "css" / "letter.css"
    code = context["submission"].code
    return site.download(render_pdf(html, [css]), "application/pdf", f"转办函-{code}.pdf")


@bp.get("/referrals/<code>")
@roles_required(*ROLES)
def referral_letter_page(code: str) -> Any:
    """The letter without the submitter's personal data: nothing decrypted for show."""
    submission = load(code, *ROLES)
    referral = _referral(submission)
    return render_template(
        "triage/referral_letter.html", **_context(submission, referral, revealed=False)
    )


@bp.get("/referrals/<code>/pdf")
@roles_required(*ROLES)
def referral_letter_pdf(code: str) -> Any:
    submission = load(code, *ROLES)
    return _pdf(_context(submission, _referral(submission), revealed=False))


def _reason() -> str | None:
    typed = " ".join((request.form.get("reason") or "").split())
    return typed[:REASON_KEPT] if len(typed) >= REASON_MIN else None


def _with_contact(code: str, *, as_pdf: bool) -> Any:
    submission = load(code, *ROLES)
    referral = _referral(submission)
    masked = _context(submission, referral, revealed=False)
    if not masked["may_pass_contact"]:
        masked["contact_error"] = _(
            "反映人未留联系方式、要求匿名或未同意使用其联系方式，联系方式不能随函转出。"
        )
        return render_template("triage/referral_letter.html", **masked), 409
    reason = _reason()
    if reason is None:
        masked["reason_error"] = _(
            "请填写需要随函转出联系方式的理由（至少%(n)s个字），它将记入审计日志。", n=REASON_MIN
        )
        return render_template("triage/referral_letter.html", **masked), 422
    audit_personal_data_view(
        submission, f"转办函附反映人联系方式（转{referral.body_name}）：{reason}", CONTACT_FIELDS
    )
    db.session.commit()
    context = _context(submission, referral, revealed=True, reason=reason)
    if as_pdf:
        return _pdf(context)
    return render_template("triage/referral_letter.html", **context)


@bp.post("/referrals/<code>")
@roles_required(*ROLES)
@recent_auth_required  # it decrypts personal data: sudo mode, as revealing does
def referral_letter_reveal(code: str) -> Any:
    return _with_contact(code, as_pdf=False)


@bp.post("/referrals/<code>/pdf")
@roles_required(*ROLES)
@recent_auth_required
def referral_letter_reveal_pdf(code: str) -> Any:
    return _with_contact(code, as_pdf=True)
