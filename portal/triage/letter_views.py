"""Printed replies for citizens without email: an A4 reply letter (and its PDF) and an A4 sheet
of address labels. Both decrypt names and addresses, so each print is a personal-data event.

/staff/intake/letters/<code>   the letter (GET preview, POST with edited text)
/staff/intake/labels           labels for a batch of receipt codes

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
    Response,
    abort,
    current_app,
    render_template,
    request,
)
from flask_babel import force_locale

from portal import site
from portal.extensions import db
from portal.intake import offline
from portal.intake.models import CHANNEL_LABELS, Submission
from portal.intake.service import audit_personal_data_view, find_by_code
from portal.offices.service import letter_identity
from portal.printing import pdf_available, render_pdf
from portal.staff.auth import roles_required
from portal.staff.scope import can
from portal.triage.forms import LetterForm
from portal.triage.replies import replies_for
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


def _letter_context(submission: Submission, form: LetterForm) -> dict[str, Any]:
    notice = submission.notice
    identity = letter_identity(submission.office)
    postcode, address = offline.split_address(submission.contact_address)
    reply = form.reply.data or ""
    letter_date = form.letter_date.data or local_today()
    return {
        "submission": submission,
        "form": form,
        **identity,
        # The office's return address; else the address its notice gave the public for letters.
        "office_address": identity["office_address"] or getattr(notice, "contact_address", ""),
        "office_postcode": identity["office_postcode"] or getattr(notice, "contact_postcode", ""),
        "recipient_name": submission.contact_name,
        "recipient_address": address,
        "recipient_postcode": postcode,
        "paragraphs": [p.strip() for p in reply.splitlines() if p.strip()],
        "received_text": offline.chinese_date(local_date(submission.received_at)),
        "channel_label": _channel_label(submission),
        "date_text": offline.chinese_date(letter_date),
        "pdf_available": pdf_available(),
    }


def _letter_form(submission: Submission) -> LetterForm:
    form = LetterForm(request.form if request.method == "POST" else request.args)
    if not (form.reply.data or "").strip():
        form.reply.data = starting_text(submission, form.reply_id.data) or ""
    return form


@bp.route("/letters/<code>", methods=["GET", "POST"])
@roles_required(*ROLES)
def letter(code: str) -> str:
    submission = load(code, *ROLES)
    form = _letter_form(submission)
    audit_personal_data_view(submission, "打印答复信", ["contact_name", "contact_address"])
    db.session.commit()
    return render_template("triage/letter.html", **_letter_context(submission, form))


@bp.route("/letters/<code>/pdf", methods=["GET", "POST"])
@roles_required(*ROLES)
def letter_pdf(code: str) -> Response:
    submission = load(code, *ROLES)
    if not pdf_available():
        abort(501)
    form = _letter_form(submission)
    audit_personal_data_view(submission, "生成答复信PDF", ["contact_name", "contact_address"])
    db.session.commit()
    html = render_template("triage/letter_pdf.html", **_letter_context(submission, form))
    css = Path(current_app.static_folder or "") / "css" / "letter.css"
    return site.download(
        render_pdf(html, [css]), "application/pdf", f"答复信-{submission.code}.pdf"
    )


def _codes(raw: str) -> list[str]:
    return [c for c in re.split(r"[\s,，;；、]+", raw or "") if c]


@bp.get("/labels")
@roles_required(*ROLES)
def labels() -> str:
    wanted = _codes(request.args.get("codes", ""))[:500]
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
        audit_personal_data_view(submission, "打印地址标签", ["contact_name", "contact_address"])
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
    )
