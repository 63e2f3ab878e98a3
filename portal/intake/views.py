"""Staff intake: letters, calls, visits and the suggestion box, through the one door.

/staff/intake/new      one item typed from a letter, a call, a visit or the suggestion box
/staff/intake/receipt  its receipt, shown once
/staff/intake/bulk     a day's items from CSV/XLSX: preview, then all-or-nothing import
                       (bulk_views.py, on this blueprint)
(The printed reply letters and address labels read replies: triage/letter_views.py.)
Each item goes to an office: office_choice.py says which offices a user may record for.
Triagers record for their offices; the supervisor (the inspection office) may record too.
Views stay thin: rules live in offline.py and bulk.py, checks in forms.py, recording in
service.record_submission (bulk_service.py for a whole file).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from portal.extensions import db
from portal.intake import offline
from portal.intake.attachments import send_attachment_response
from portal.intake.forms import (
    BulkUploadForm,
    StaffIntakeForm,
    apply_service_errors,
    incoming_files,
)
from portal.intake.models import CHANNEL_LABELS, Attachment
from portal.intake.office_choice import IntakeContext, UnknownNotice, intake_context
from portal.intake.service import (
    Incoming,
    SubmissionRejected,
    audit_personal_data_view,
    find_by_code,
    record_submission,
)
from portal.intake.slips import tracking_facts
from portal.notices.models import Finding, Notice
from portal.staff import session_store
from portal.staff.auth import roles_required
from portal.staff.scope import require_office
from portal.workdays import local_today

bp = Blueprint("intake_staff", __name__, url_prefix="/staff/intake")

# Admin always passes; the supervisor logs intake (the inspection office takes calls too).
ROLES = ("triager", "supervisor")
RECEIPT_KEY = "intake_staff.receipt"
SERVICE_FIELDS = (
    "body", "subject", "findings", "contact_name", "contact_phone", "contact_email",
    "contact_address", "anonymous", "consent", "attachments",
)  # fmt: skip
Page = tuple[str, int]


@bp.after_request
def _no_store(response: Response) -> Response:
    # Every page here shows personal data or a receipt secret: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the office and the notice an item answers to ----------------------------------------------


def page_context(
    office_value: str | None, notice_slug: str | None, *, posted: bool
) -> IntakeContext:
    """The page's office choice and notice for the logged-in user; 403 for a user with no
    office to record for, 404 for a notice that is not one of its offices' published ones."""
    try:
        context = intake_context(current_user, office_value, notice_slug, posted=posted)
    except UnknownNotice:
        abort(404)
    if not context.intake.offices:
        abort(403)
    return context


# --- one item --------------------------------------------------------------------------------


def secret_groups(secret: str) -> str:
    """1234 5678 9012 3456: easier to read out on the phone and to copy into a letter."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _finding_groups(notice: Notice | None) -> list[tuple[str, list[Finding]]]:
    if notice is None:
        return []
    groups = [(c.title, [f for f in c.findings if f.active]) for c in notice.categories]
    loose = [f for f in notice.findings if f.active and f.category_id is None]
    if loose:
        groups.append((_("其他问题"), loose))
    return [(title, findings) for title, findings in groups if findings]


def _window_text(notice: Notice | None) -> str | None:
    if notice is None or (notice.feedback_opens_at is None and notice.feedback_closes_at is None):
        return None
    parts = []
    if notice.feedback_opens_at is not None:
        first = offline.first_day(notice.feedback_opens_at)
        parts.append(_("自%(date)s起", date=offline.chinese_date(first)))
    if notice.feedback_closes_at is not None:
        last = offline.last_day(notice.feedback_closes_at)
        parts.append(_("至%(date)s止", date=offline.chinese_date(last)))
    return "".join(parts) + _("（信件以邮戳日期为准）")


def _late_note(notice: Notice | None, received_at: datetime, postmark: date | None) -> str | None:
    if notice is None:
        return None
    opens, closes = notice.feedback_opens_at, notice.feedback_closes_at
    if offline.is_on_time(opens, closes, received_at, postmark):
        return None
    basis = _("邮戳日期") if postmark else _("收到时间")
    if offline.is_late(closes, received_at, postmark):
        return _(
            "按%(basis)s，此件晚于意见征集截止时间，已标记为逾期；仍照常登记办理。", basis=basis
        )
    return _("按%(basis)s，此件早于意见征集开始时间；已照常登记。", basis=basis)


def _render_new(
    form: StaffIntakeForm,
    context: IntakeContext,
    status: int = 200,
    general_errors: list[str] | None = None,
) -> Page:
    notice = context.notice
    return (
        render_template(
            "intake/staff_new.html",
            form=form,
            context=context,
            notice=notice,
            groups=_finding_groups(notice),
            window_text=_window_text(notice),
            general_errors=general_errors or [],
            limits={
                "files": current_app.config["UPLOAD_MAX_FILES"],
                "file_mb": current_app.config["UPLOAD_MAX_FILE_BYTES"] // (1024 * 1024),
            },
        ),
        status,
    )


def check_office(form: StaffIntakeForm | BulkUploadForm, context: IntakeContext) -> bool:
    """The office chosen, and the notice one of its notices; else an error beside the select
    (the page comes back with everything typed)."""
    problem = context.office_problem()
    if problem:
        form.office.errors = [*form.office.errors, problem]
    return problem is None


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*ROLES)
def new() -> Page | BaseResponse:
    form = StaffIntakeForm()
    if request.method == "GET":
        context = page_context(request.args.get("office"), request.args.get("notice"), posted=False)
    else:
        context = page_context(form.office.data, form.notice.data, posted=True)
    form.office.choices = context.intake.choices()
    notice = context.notice
    form.findings.allowed = {f.number for f in notice.findings if f.active} if notice else set()
    if request.method == "GET":
        form.office.data = context.office_value
        form.notice.data = context.notice_value
        form.received_on.data = local_today()
        form.line.data = notice.contact_phone if notice else None
        form.received_by.data = current_user.display_name or current_user.email
        return _render_new(form, context)
    form.notice.data = context.notice_value
    valid = form.validate()
    if not (check_office(form, context) and valid) or context.choice is None:
        return _render_new(form, context, 422)

    choice = context.choice
    received_at = form.received_at()
    channel = form.channel.data
    postmark = form.postmarked_on.data if channel == "letter" else None
    contact = form.contact()
    try:
        receipt = record_submission(
            Incoming(
                channel=channel,
                body=form.body.data,
                notice=notice,
                office_id=choice.office_id,
                unrouted=choice.unrouted,
                subject=form.subject.data or None,
                findings=form.findings.data or (),
                contact=contact,
                anonymous=bool(form.anonymous.data),
                consent=contact is not None,
                attachments=incoming_files(form.uploaded_files()),
                received_at=received_at,
                postmarked_on=postmark,
                channel_details=form.channel_details(),
            )
        )
    except SubmissionRejected as exc:
        unplaced = apply_service_errors(form, exc.errors, SERVICE_FIELDS)
        return _render_new(form, context, 422, unplaced)

    # Shown once, like the citizen's own receipt page: a reload no longer shows the secret.
    # The secret stays server-side: the session cookie is readable by whoever holds it.
    session_store.stash(
        RECEIPT_KEY,
        {
            "code": receipt.code,
            "secret": receipt.secret,
            "channel": channel,
            "office": choice.label,
            "office_value": context.office_value,
            "late_note": _late_note(notice, received_at, postmark),
            "email": bool(contact and contact.email),
        },
    )
    return redirect(url_for(".receipt"), code=303)


@bp.get("/receipt")
@roles_required(*ROLES)
def receipt() -> str:
    data = session_store.take(RECEIPT_KEY)
    submission = find_by_code(data["code"]) if data else None
    if submission is not None:
        require_office(submission.office_id)
    return render_template(
        "intake/staff_receipt.html",
        receipt=data,
        submission=submission,
        secret_groups=secret_groups(data["secret"]) if data else None,
        channel_label=CHANNEL_LABELS.get(data["channel"], "") if data else "",
        facts=tracking_facts(submission) if submission is not None else None,
    )


@bp.get("/attachments/<int:attachment_id>")
@roles_required(*ROLES)
def attachment(attachment_id: int) -> Response:
    item = db.session.get(Attachment, attachment_id)
    if item is None:
        abort(404)
    # Another office's scan answers 404: its existence is not confirmed.
    require_office(item.submission.office_id)
    # Scans may show ID cards or medical records: opening one is a personal-data view.
    audit_personal_data_view(item.submission, "查看扫描件/附件", [f"attachment:{item.id}"])
    db.session.commit()
    try:
        return send_attachment_response(item)
    except FileNotFoundError:
        abort(404)
