"""Staff intake: letters, calls, visits and the suggestion box, through the one door.

/staff/intake/new      one item typed from a letter, a call, a visit or the suggestion box
/staff/intake/receipt  its receipt, shown once
/staff/intake/bulk     a day's items from CSV/XLSX: preview, then all-or-nothing import
(The printed reply letters and address labels read replies: triage/letter_views.py.)
Views stay thin: rules live in offline.py and bulk.py, checks in forms.py, recording in
service.record_submission (bulk_service.py for a whole file).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from portal import site
from portal.extensions import db
from portal.intake import bulk, offline
from portal.intake.attachments import send_attachment_response
from portal.intake.bulk_service import (
    BulkRowRejected,
    import_rows,
    keep_pending,
    preview_file,
    take_pending,
)
from portal.intake.forms import (
    BulkConfirmForm,
    BulkUploadForm,
    StaffIntakeForm,
    apply_service_errors,
    incoming_files,
)
from portal.intake.models import CHANNEL_LABELS, Attachment
from portal.intake.service import (
    Incoming,
    SubmissionRejected,
    audit_personal_data_view,
    find_by_code,
    record_submission,
)
from portal.notices.models import Finding, Notice
from portal.staff.auth import roles_required
from portal.workdays import local_today

bp = Blueprint("intake_staff", __name__, url_prefix="/staff/intake")

ROLES = ("triager",)  # admin always passes
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


# --- the notice an item answers to -------------------------------------------------------------


def _notices_newest_first() -> list[Notice]:
    """Published notices, the one published last first: it is what staff mostly answer to."""
    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.state == "published")
            .order_by(Notice.published_at.desc(), Notice.id.desc())
        )
    )


def _chosen_notice(slug: str | None, notices: list[Notice]) -> Notice | None:
    """The notice named by slug ("none" = no notice); by default the latest published one."""
    if slug == "none":
        return None
    if slug:
        for notice in notices:
            if notice.slug == slug:
                return notice
        abort(404)
    return notices[0] if notices else None


# --- one item --------------------------------------------------------------------------------


def _secret_groups(secret: str) -> str:
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
    notice: Notice | None,
    notices: list[Notice],
    status: int = 200,
    general_errors: list[str] | None = None,
) -> Page:
    return (
        render_template(
            "intake/staff_new.html",
            form=form,
            notice=notice,
            notices=notices,
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


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*ROLES)
def new() -> Page | BaseResponse:
    notices = _notices_newest_first()
    form = StaffIntakeForm()
    slug = form.notice.data if request.method == "POST" else request.args.get("notice")
    notice = _chosen_notice(slug, notices)
    form.findings.allowed = {f.number for f in notice.findings if f.active} if notice else set()
    if request.method == "GET":
        form.notice.data = notice.slug if notice else "none"
        form.received_on.data = local_today()
        form.line.data = notice.contact_phone if notice else None
        form.received_by.data = current_user.display_name or current_user.email
        return _render_new(form, notice, notices)
    if not form.validate():
        return _render_new(form, notice, notices, 422)

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
        return _render_new(form, notice, notices, 422, unplaced)

    # Shown once, like the citizen's own receipt page: a reload no longer shows the secret.
    session[RECEIPT_KEY] = {
        "code": receipt.code,
        "secret": receipt.secret,
        "channel": channel,
        "late_note": _late_note(notice, received_at, postmark),
        "email": bool(contact and contact.email),
    }
    return redirect(url_for(".receipt"), code=303)


@bp.get("/receipt")
@roles_required(*ROLES)
def receipt() -> str:
    data = session.pop(RECEIPT_KEY, None)
    submission = find_by_code(data["code"]) if data else None
    return render_template(
        "intake/staff_receipt.html",
        receipt=data,
        submission=submission,
        secret_groups=_secret_groups(data["secret"]) if data else None,
        channel_label=CHANNEL_LABELS.get(data["channel"], "") if data else "",
    )


@bp.get("/attachments/<int:attachment_id>")
@roles_required(*ROLES)
def attachment(attachment_id: int) -> Response:
    item = db.session.get(Attachment, attachment_id)
    if item is None:
        abort(404)
    # Scans may show ID cards or medical records: opening one is a personal-data view.
    audit_personal_data_view(item.submission, "查看扫描件/附件", [f"attachment:{item.id}"])
    db.session.commit()
    try:
        return send_attachment_response(item)
    except FileNotFoundError:
        abort(404)


# --- a day's items from one file ----------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _render_upload(
    form: BulkUploadForm, notice: Notice | None, notices: list[Notice], status: int = 200
) -> Page:
    return (
        render_template(
            "intake/staff_bulk.html",
            form=form,
            notice=notice,
            notices=notices,
            columns=bulk.COLUMNS,
            max_rows=bulk.MAX_BULK_ROWS,
        ),
        status,
    )


def _render_preview(
    preview: bulk.BulkPreview, data: bytes, filename: str, notice: Notice | None
) -> Page:
    # Only a file that passed every check is kept for the confirmation step.
    confirm = BulkConfirmForm(
        notice=notice.slug if notice else "none",
        filename=filename,
        token=keep_pending(data, current_user.id) if preview.ok else "",
    )
    return (
        render_template(
            "intake/staff_bulk_preview.html",
            preview=preview,
            filename=filename,
            notice=notice,
            confirm=confirm,
            sha256=hashlib.sha256(data).hexdigest(),
        ),
        200 if preview.ok else 422,
    )


@bp.get("/bulk", endpoint="bulk")
@roles_required(*ROLES)
def upload_page() -> Page:
    notices = _notices_newest_first()
    notice = _chosen_notice(request.args.get("notice"), notices)
    return _render_upload(BulkUploadForm(notice=notice.slug if notice else "none"), notice, notices)


@bp.get("/bulk/template.csv")
@roles_required(*ROLES)
def bulk_template_csv() -> Response:
    return site.download(bulk.template_csv(), "text/csv; charset=utf-8", "意见登记模板.csv")


@bp.get("/bulk/template.xlsx")
@roles_required(*ROLES)
def bulk_template_xlsx() -> Response:
    return site.download(bulk.template_xlsx(), XLSX, "意见登记模板.xlsx")


@bp.post("/bulk")
@roles_required(*ROLES)
def bulk_preview() -> Page:
    notices = _notices_newest_first()
    form = BulkUploadForm()
    notice = _chosen_notice(form.notice.data, notices)
    upload = form.chosen_file()
    if not form.validate() or upload is None:
        form.file.errors = [*form.file.errors, _("请选择要导入的CSV或XLSX文件。")]
        return _render_upload(form, notice, notices, 422)
    data, filename = upload.read(), upload.filename or ""
    return _render_preview(preview_file(data, filename, notice), data, filename, notice)


@bp.post("/bulk/confirm")
@roles_required(*ROLES)
def bulk_confirm() -> Page | str:
    form = BulkConfirmForm()
    if not form.validate():
        abort(400)
    notices = _notices_newest_first()
    notice = _chosen_notice(form.notice.data, notices)
    data = take_pending(form.token.data or "", current_user.id)
    if data is None:
        upload_form = BulkUploadForm(notice=notice.slug if notice else "none")
        upload_form.file.errors = [_("预览已过期或已导入过，请重新上传文件。")]
        return _render_upload(upload_form, notice, notices, 410)
    filename = form.filename.data or "upload.csv"
    # Checked again: the confirmation must import exactly what passes the rules now.
    preview = preview_file(data, filename, notice)
    if not preview.ok:
        return _render_preview(preview, data, filename, notice)
    try:
        receipts = import_rows(preview.rows, notice, hashlib.sha256(data).hexdigest(), filename)
    except BulkRowRejected as exc:
        preview.errors = exc.errors
        return _render_preview(preview, data, filename, notice)
    return render_template(
        "intake/staff_bulk_done.html",
        results=list(zip(preview.rows, receipts, strict=True)),
        filename=filename,
        secret_groups=_secret_groups,
        codes=",".join(r.code for r in receipts),
    )
