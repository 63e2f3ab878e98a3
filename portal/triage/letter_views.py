"""Printed replies for citizens without email: an A4 reply letter (and its PDF) and an A4 sheet
of address labels. Both decrypt names and addresses, so each print is a personal-data event.

/staff/intake/letters/<code>       GET: the letter with the recipient masked, nothing recorded;
                                   POST (CSRF + reason): the letter to print, audited
/staff/intake/letters/<code>/pdf   POST only (CSRF + reason)
/staff/intake/labels               GET: the form; POST (CSRF + reason): the label sheet, audited

Decrypting happens only on a POST carrying the form's CSRF token and the reason, so a link or
an image on another site cannot make a staff browser print (and log) anyone's address; and,
as for revealing personal data on the detail page, only within sudo mode (recent_auth).

A letter is the submission's office's: its letterhead, name and return address
(offices.service.letter_identity), printed by a triager of that office. Labels list only the
submissions of offices where the user is a triager; other codes count as not found.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    request,
)
from flask_babel import force_locale
from flask_babel import gettext as _

from portal import site
from portal.extensions import db
from portal.intake import offline
from portal.intake.models import CHANNEL_LABELS, Submission
from portal.intake.service import audit_personal_data_view, find_by_code
from portal.intake.slips import tracking_facts
from portal.offices.service import letter_identity
from portal.personal_data import mask_address, mask_name
from portal.printing import pdf_available, render_pdf
from portal.staff.auth import roles_required
from portal.staff.recent_auth import recent_auth_required
from portal.staff.scope import can
from portal.triage.forms import LetterForm
from portal.triage.replies import replies_for
from portal.triage.reveal import REASON_KEPT, REASON_MIN
from portal.triage.views import load
from portal.workdays import local_date, local_today

bp = Blueprint("letters", __name__, url_prefix="/staff/intake")

ROLES = ("triager",)  # admin always passes
LABELS_PER_SHEET = 14  # 2 x 7, the common 99.1 x 38.1 mm label sheet
LETTER_LOCALE = "zh_Hans_CN"  # an official Chinese document, whatever the staff page's language


def starting_text(submission: Submission, reply_id: int | None = None) -> str | None:
    """The text a letter starts from: the chosen reply's, else the newest reply's, or None."""
    written = [r for r in replies_for(submission) if r.body]  # oldest first
    chosen = next((r for r in written if r.id == reply_id), None)
    if chosen is not None:
        return chosen.body
    return written[-1].body if written else None


def _channel_label(submission: Submission) -> str:
    with force_locale(LETTER_LOCALE):
        return str(CHANNEL_LABELS[submission.channel])


def _reason() -> str | None:
    """The reason typed on the form (None when too short to be one), as the audit keeps it."""
    typed = " ".join((request.form.get("reason") or "").split())
    return typed[:REASON_KEPT] if len(typed) >= REASON_MIN else None


def _recipient(submission: Submission, revealed: bool) -> dict[str, Any]:
    postcode, address = offline.split_address(submission.contact_address)
    if not revealed:
        return {
            "recipient_name": mask_name(submission.contact_name),
            "recipient_address": mask_address(address),
            "recipient_postcode": None,
        }
    return {
        "recipient_name": submission.contact_name,
        "recipient_address": address,
        "recipient_postcode": postcode,
    }


def _letter_context(
    submission: Submission, form: LetterForm, *, revealed: bool, reason: str | None = None
) -> dict[str, Any]:
    notice = submission.notice
    identity = letter_identity(submission.office)
    reply = form.reply.data or ""
    letter_date = form.letter_date.data or local_today()
    return {
        "submission": submission,
        "form": form,
        **identity,
        # The office's return address; else the address its notice gave the public for letters.
        "office_address": identity["office_address"] or getattr(notice, "contact_address", ""),
        "office_postcode": identity["office_postcode"] or getattr(notice, "contact_postcode", ""),
        **_recipient(submission, revealed),
        "has_address": bool(submission.contact_address),
        "revealed": revealed,
        "reason": reason or "",
        "paragraphs": [p.strip() for p in reply.splitlines() if p.strip()],
        "received_text": offline.chinese_date(local_date(submission.received_at)),
        "channel_label": _channel_label(submission),
        "date_text": offline.chinese_date(letter_date),
        "pdf_available": pdf_available(),
        "facts": tracking_facts(submission),  # code, tracking URL and QR, deadline
    }


def _letter_form(submission: Submission) -> LetterForm:
    form = LetterForm(request.form if request.method == "POST" else request.args)
    if not (form.reply.data or "").strip():
        form.reply.data = starting_text(submission, form.reply_id.data) or ""
    return form


def _masked_letter(submission: Submission, form: LetterForm, status: int = 200) -> Any:
    context = _letter_context(submission, form, revealed=False)
    if status != 200:
        context["reason_error"] = _(
            "请填写打印用途（至少%(n)s个字），它将记入审计日志。", n=REASON_MIN
        )
    return render_template("triage/letter.html", **context), status


@bp.get("/letters/<code>")
@roles_required(*ROLES)
def letter(code: str) -> Any:
    """The letter's text and layout with the recipient masked: nothing decrypted for show."""
    submission = load(code, *ROLES)
    return _masked_letter(submission, _letter_form(submission))


@bp.post("/letters/<code>")
@roles_required(*ROLES)
@recent_auth_required  # it decrypts personal data: sudo mode, as revealing does
def letter_print(code: str) -> Any:
    submission = load(code, *ROLES)
    form = _letter_form(submission)
    reason = _reason()
    if reason is None:
        return _masked_letter(submission, form, 422)
    audit_personal_data_view(
        submission, f"打印答复信：{reason}", ["contact_name", "contact_address"]
    )
    db.session.commit()
    context = _letter_context(submission, form, revealed=True, reason=reason)
    return render_template("triage/letter.html", **context)


@bp.post("/letters/<code>/pdf")
@roles_required(*ROLES)
@recent_auth_required
def letter_pdf(code: str) -> Any:
    submission = load(code, *ROLES)
    if not pdf_available():
        abort(501)
    form = _letter_form(submission)
    reason = _reason()
    if reason is None:
        return _masked_letter(submission, form, 422)
    audit_personal_data_view(
        submission, f"生成答复信PDF：{reason}", ["contact_name", "contact_address"]
    )
    db.session.commit()
    context = _letter_context(submission, form, revealed=True, reason=reason)
    html = render_template("triage/letter_pdf.html", **context)
    css = Path(current_app.static_folder or "") / "css" / "letter.css"
    return site.download(
        render_pdf(html, [css]), "application/pdf", f"答复信-{submission.code}.pdf"
    )


def _codes(raw: str) -> list[str]:
    return [c for c in re.split(r"[\s,，;；、]+", raw or "") if c]


@bp.get("/labels")
@roles_required(*ROLES)
def labels() -> str:
    """The form only (codes may come in the link from a bulk entry); nothing is decrypted."""
    wanted = _codes(request.args.get("codes", ""))[:500]
    return render_template(
        "triage/labels.html", sheets=[], count=0, missing=[], no_address=[],
        codes_text="\n".join(wanted), reason="",
    )  # fmt: skip


@bp.post("/labels")
@roles_required(*ROLES)
@recent_auth_required
def labels_print() -> Any:
    wanted = _codes(request.form.get("codes", ""))[:500]
    reason = _reason()
    if reason is None:
        page = render_template(
            "triage/labels.html", sheets=[], count=0, missing=[], no_address=[],
            codes_text="\n".join(wanted), reason="",
            reason_error=_("请填写打印用途（至少%(n)s个字），它将记入审计日志。", n=REASON_MIN),
        )  # fmt: skip
        return page, 422
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    no_address: list[str] = []
    seen: set[int] = set()
    for code in wanted:
        submission = find_by_code(code)
        if submission is None or not can(submission.office_id, *ROLES):
            missing.append(code)
            continue
        if submission.id in seen:
            continue
        seen.add(submission.id)
        if not submission.contact_address:
            no_address.append(submission.code)
            continue
        audit_personal_data_view(
            submission, f"打印地址标签：{reason}", ["contact_name", "contact_address"]
        )
        postcode, address = offline.split_address(submission.contact_address)
        found.append(
            {
                "code": submission.code,
                "name": submission.contact_name,
                "postcode": postcode,
                "address": address,
            }
        )
    db.session.commit()
    sheets = [found[i : i + LABELS_PER_SHEET] for i in range(0, len(found), LABELS_PER_SHEET)]
    return render_template(
        "triage/labels.html",
        sheets=sheets,
        count=len(found),
        missing=missing,
        no_address=no_address,
        codes_text="\n".join(wanted),
        reason=reason,
    )
