"""Staff intake of a day's items from one CSV/XLSX file (on the intake_staff blueprint).

/staff/intake/bulk             the upload page (office and notice chosen for the whole file)
/staff/intake/bulk (POST)      the preview: every row checked, nothing stored
/staff/intake/bulk/confirm     all rows recorded in one transaction, or none
/staff/intake/bulk/template.*  the templates to fill in
"""

from __future__ import annotations

import hashlib

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal import site
from portal.intake import bulk
from portal.intake.bulk_service import (
    BulkRowRejected,
    import_rows,
    keep_pending,
    preview_file,
    take_pending,
)
from portal.intake.forms import BulkConfirmForm, BulkUploadForm
from portal.intake.office_choice import IntakeContext
from portal.intake.views import ROLES, Page, bp, check_office, page_context, secret_groups
from portal.staff.auth import roles_required

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload_form(context: IntakeContext, form: BulkUploadForm | None = None) -> BulkUploadForm:
    if form is None:
        form = BulkUploadForm(office=context.office_value, notice=context.notice_value)
    form.office.choices = context.intake.choices()
    return form


def _render_upload(form: BulkUploadForm, context: IntakeContext, status: int = 200) -> Page:
    return (
        render_template(
            "intake/staff_bulk.html",
            form=form,
            context=context,
            notice=context.notice,
            columns=bulk.COLUMNS,
            max_rows=bulk.MAX_BULK_ROWS,
        ),
        status,
    )


def _render_preview(
    preview: bulk.BulkPreview, data: bytes, filename: str, context: IntakeContext
) -> Page:
    # Only a file that passed every check is kept for the confirmation step.
    confirm = BulkConfirmForm(
        office=context.office_value,
        notice=context.notice_value,
        filename=filename,
        token=keep_pending(data, current_user.id) if preview.ok else "",
    )
    notices = {n.id: n for n in context.notices}
    return (
        render_template(
            "intake/staff_bulk_preview.html",
            preview=preview,
            filename=filename,
            notice=context.notice,
            context=context,
            row_notice=lambda row: notices.get(row.notice_id) if row.notice_id else None,
            confirm=confirm,
            sha256=hashlib.sha256(data).hexdigest(),
        ),
        200 if preview.ok else 422,
    )


@bp.get("/bulk", endpoint="bulk")
@roles_required(*ROLES)
def upload_page() -> Page:
    context = page_context(request.args.get("office"), request.args.get("notice"), posted=False)
    return _render_upload(_upload_form(context), context)


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
    form = BulkUploadForm()
    context = page_context(form.office.data, form.notice.data, posted=True)
    form = _upload_form(context, form)
    upload = form.chosen_file()
    valid = form.validate()
    if not valid or upload is None:
        form.file.errors = [*form.file.errors, _("请选择要导入的CSV或XLSX文件。")]
    if not (check_office(form, context) and valid) or upload is None or context.choice is None:
        return _render_upload(form, context, 422)
    data, filename = upload.read(), upload.filename or ""
    preview = preview_file(data, filename, context.notice, choice=context.choice)
    return _render_preview(preview, data, filename, context)


@bp.post("/bulk/confirm")
@roles_required(*ROLES)
def bulk_confirm() -> Page | str:
    form = BulkConfirmForm()
    if not form.validate():
        abort(400)
    context = page_context(form.office.data, form.notice.data, posted=True)
    choice = context.choice
    if choice is None or context.problem:
        abort(400)  # the preview sent a checked choice: this one was altered
    data = take_pending(form.token.data or "", current_user.id)
    if data is None:
        upload_form = _upload_form(context)
        upload_form.file.errors = [_("预览已过期或已导入过，请重新上传文件。")]
        return _render_upload(upload_form, context, 410)
    filename = form.filename.data or "upload.csv"
    # Checked again: the confirmation must import exactly what passes the rules now.
    preview = preview_file(data, filename, context.notice, choice=choice)
    if not preview.ok:
        return _render_preview(preview, data, filename, context)
    digest = hashlib.sha256(data).hexdigest()
    try:
        receipts = import_rows(preview.rows, context.notice, digest, filename, choice=choice)
    except BulkRowRejected as exc:
        preview.errors = exc.errors
        return _render_preview(preview, data, filename, context)
    return render_template(
        "intake/staff_bulk_done.html",
        results=list(zip(preview.rows, receipts, strict=True)),
        filename=filename,
        office=choice.label,
        routed=not choice.unrouted,  # reply letters and labels need the answering office
        secret_groups=secret_groups,
        codes=",".join(r.code for r in receipts),
    )
