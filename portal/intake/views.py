"""Staff intake: letters, calls, visits and the suggestion box, through the one door.

/staff/intake/new      one item typed from a letter, a call, a visit or the suggestion box
/staff/intake/bulk     a day's letters from CSV/XLSX: preview, then all-or-nothing import
(The printed reply letters and address labels read replies: triage/letter_views.py.)
Views stay thin: rules live in offline.py, recording in service.record_submission.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FileField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from portal import audit
from portal.extensions import db
from portal.intake import offline
from portal.intake.attachments import content_disposition, send_attachment_response
from portal.intake.forms import FindingsField, apply_service_errors, normalise_phone
from portal.intake.limits import (
    ADDRESS_WITHOUT_POSTCODE_MAX,
    EMAIL_MAX,
    NAME_MAX,
    OTHER_BODY_MAX,
    SUBJECT_MAX,
)
from portal.intake.models import CHANNEL_LABELS, Attachment
from portal.intake.service import (
    Contact,
    DuplicateSubmission,
    Incoming,
    IncomingFile,
    Receipt,
    SubmissionRejected,
    audit_personal_data_view,
    find_by_code,
    record_submission,
)
from portal.notices.models import Notice
from portal.personal_data import derived_key
from portal.staff.auth import roles_required
from portal.workdays import local_date, local_to_utc, local_today, to_local, utcnow

bp = Blueprint("intake_staff", __name__, url_prefix="/staff/intake")

ROLES = ("triager",)  # admin always passes
RECEIPT_KEY = "intake_staff.receipt"
SERVICE_FIELDS = (
    "body", "subject", "findings", "contact_name", "contact_phone", "contact_email",
    "contact_address", "anonymous", "consent", "attachments",
)  # fmt: skip
# record_submission's field names -> the bulk file's column headers.
SERVICE_COLUMNS = {
    "body": "内容",
    "subject": "标题",
    "findings": "涉及问题",
    "contact_name": "姓名",
    "contact_phone": "电话",
    "contact_email": "电子邮箱",
    "contact_address": "地址",
    "anonymous": "匿名",
    "consent": "同意使用联系方式",
    "channel": "渠道",
}


@bp.after_request
def _no_store(response: Response) -> Response:
    # Every page here shows personal data or a receipt secret: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- forms -----------------------------------------------------------------------------------


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class StaffIntakeForm(FlaskForm):
    notice = HiddenField()
    channel = RadioField(
        _l("渠道"),
        choices=[SelectChoice(value, CHANNEL_LABELS[value]) for value in offline.STAFF_CHANNELS],
        default="letter",
        validators=[InputRequired(_l("请选择渠道。"))],
    )
    received_on = DateField(_l("收到日期"), validators=[InputRequired(_l("请填写收到日期。"))])
    postmarked_on = DateField(_l("邮戳日期（信件）"), validators=[Optional()])
    contact_name = StringField(_l("姓名"), filters=[_stripped], validators=[Length(max=NAME_MAX)])
    contact_phone = StringField(_l("电话"), filters=[_stripped])
    contact_email = StringField(
        _l("电子邮箱"),
        filters=[_stripped],
        validators=[Optional(), Email(_l("电子邮箱地址格式不正确。")), Length(max=EMAIL_MAX)],
    )
    contact_postcode = StringField(_l("邮编"), filters=[_stripped])
    contact_address = StringField(
        _l("地址"), filters=[_stripped], validators=[Length(max=ADDRESS_WITHOUT_POSTCODE_MAX)]
    )
    anonymous = BooleanField(_l("来信人/来电人要求匿名（不登记任何联系方式）"))
    consent = BooleanField(_l("对方同意我办用所留联系方式答复（信中留有回信地址视为同意）"))
    subject = StringField(_l("标题"), filters=[_stripped], validators=[Length(max=SUBJECT_MAX)])
    body = TextAreaField(
        _l("内容（信件转录或通话、来访摘要）"),
        validators=[Length(max=OTHER_BODY_MAX, message=_l("内容过长。"))],
    )
    findings = FindingsField(_l("涉及的问题"), default=list)
    attachments = MultipleFileField(_l("扫描件（PDF或图片，可多个）"))
    called_at = DateTimeLocalField(_l("来电时间"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    duration_min = IntegerField(
        _l("通话时长（分钟）"),
        validators=[Optional(), NumberRange(0, offline.DURATION_MAX, _l("时长应为0到1440分钟。"))],
    )
    line = StringField(_l("接听号码（我办电话）"), filters=[_stripped], validators=[Length(max=40)])
    received_by = StringField(_l("接待人"), filters=[_stripped], validators=[Length(max=NAME_MAX)])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        return self._check_rules() and ok

    def _check_rules(self) -> bool:
        ok = True

        def fail(field: Any, message: str) -> None:
            nonlocal ok
            field.errors = [*field.errors, message]
            ok = False

        if not (self.body.data or "").strip():
            fail(self.body, _l("请录入信件内容或通话、来访摘要。"))
        today = local_today()
        if self.received_on.data and self.received_on.data > today:
            fail(self.received_on, _l("收到日期不能晚于今天。"))
        postmark = self.postmarked_on.data
        received_on = self.received_on.data
        if self.channel.data == "letter" and postmark and received_on and postmark > received_on:
            fail(self.postmarked_on, _l("邮戳日期不能晚于收到日期。"))
        if self.channel.data == "phone" and self.called_at.data:
            called = local_to_utc(self.called_at.data)
            if called > utcnow():
                fail(self.called_at, _l("来电时间不能晚于现在。"))
            elif self.received_on.data and local_date(called) != self.received_on.data:
                fail(self.called_at, _l("来电时间与收到日期不是同一天。"))
        if self.contact_phone.data and normalise_phone(self.contact_phone.data) is None:
            fail(self.contact_phone, _l("电话号码格式不正确：请填写11位手机号或带区号的固定电话。"))
        postcode = self.contact_postcode.data
        if postcode and not re.fullmatch(r"\d{6}", postcode):
            fail(self.contact_postcode, _l("邮编应为6位数字。"))
        if self.anonymous.data and self.has_contact:
            fail(self.anonymous, _l("要求匿名时请不要登记联系方式。"))
        elif self.has_contact and not self.consent.data:
            fail(self.consent, _l("登记了联系方式时，请确认对方同意我办用其联系方式答复。"))
        return ok

    @property
    def has_contact(self) -> bool:
        return any(
            (
                self.contact_name.data,
                self.contact_phone.data,
                self.contact_email.data,
                self.contact_address.data,
            )
        )

    def contact(self) -> Contact | None:
        if self.anonymous.data or not self.has_contact:
            return None
        phone = self.contact_phone.data
        return Contact(
            name=self.contact_name.data or None,
            phone=normalise_phone(phone) if phone else None,
            email=self.contact_email.data or None,
            address=offline.join_address(self.contact_postcode.data, self.contact_address.data),
        )

    def received_at(self) -> datetime:
        if self.channel.data == "phone" and self.called_at.data:
            return local_to_utc(self.called_at.data)
        return offline.received_moment(self.received_on.data, utcnow())

    def channel_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"entered_by": "staff_form"}
        if self.channel.data == "phone":
            called = self.called_at.data
            details.update(
                called_at=local_to_utc(called).isoformat() if called else None,
                duration_min=self.duration_min.data,
                number=self.line.data or None,
            )
        elif self.channel.data == "visit":
            details["received_by"] = self.received_by.data or None
        return details

    def uploaded_files(self) -> list[FileStorage]:
        return [f for f in self.attachments.data or () if isinstance(f, FileStorage) and f.filename]


class BulkUploadForm(FlaskForm):
    notice = HiddenField()
    file = FileField(_l("CSV或XLSX文件"))


class BulkConfirmForm(FlaskForm):
    notice = HiddenField()
    filename = HiddenField()
    token = HiddenField()  # names the uploaded file, kept encrypted until confirmed (see below)


# --- shared helpers --------------------------------------------------------------------------


def _published_notices() -> list[Notice]:
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


def _finding_groups(notice: Notice | None) -> list[tuple[str, list[Any]]]:
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
        parts.append(
            _(
                "自%(date)s起",
                date=offline.chinese_date(offline.first_day(notice.feedback_opens_at)),
            )
        )
    if notice.feedback_closes_at is not None:
        parts.append(
            _(
                "至%(date)s止",
                date=offline.chinese_date(offline.last_day(notice.feedback_closes_at)),
            )
        )
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


# --- one item --------------------------------------------------------------------------------


def _render_new(
    form: StaffIntakeForm,
    notice: Notice | None,
    notices: list[Notice],
    status: int = 200,
    general_errors: list[str] | None = None,
) -> tuple[str, int]:
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
def new() -> Any:
    notices = _published_notices()
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
                attachments=[
                    IncomingFile(f.filename or "", f.read(), f.mimetype)
                    for f in form.uploaded_files()
                ],
                received_at=received_at,
                postmarked_on=postmark,
                late=offline.is_late(
                    notice.feedback_closes_at if notice else None, received_at, postmark
                ),
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
def receipt() -> Any:
    data = session.pop(RECEIPT_KEY, None)
    submission = find_by_code(data["code"]) if data else None
    return render_template(
        "intake/staff_receipt.html",
        receipt=data,
        submission=submission,
        secret_groups=_secret_groups(data["secret"]) if data else None,
        channel_label=CHANNEL_LABELS.get(data["channel"], "") if data else "",
    )


def _secret_groups(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


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


# --- bulk --------------------------------------------------------------------------------------


@bp.get("/bulk")
@roles_required(*ROLES)
def bulk() -> Any:
    notices = _published_notices()
    notice = _chosen_notice(request.args.get("notice"), notices)
    form = BulkUploadForm(notice=notice.slug if notice else "none")
    return _render_bulk(form, notice, notices)


def _render_bulk(
    form: BulkUploadForm,
    notice: Notice | None,
    notices: list[Notice],
    status: int = 200,
    **extra: Any,
) -> tuple[str, int]:
    return (
        render_template(
            "intake/staff_bulk.html",
            form=form,
            notice=notice,
            notices=notices,
            columns=offline.COLUMNS,
            max_rows=offline.MAX_BULK_ROWS,
            **extra,
        ),
        status,
    )


@bp.get("/bulk/template.csv")
@roles_required(*ROLES)
def bulk_template_csv() -> Response:
    return _download(offline.template_csv(), "text/csv; charset=utf-8", "意见登记模板.csv")


@bp.get("/bulk/template.xlsx")
@roles_required(*ROLES)
def bulk_template_xlsx() -> Response:
    mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(offline.template_xlsx(), mimetype, "意见登记模板.xlsx")


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = make_response(data)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response


def _preview(data: bytes, filename: str, notice: Notice | None) -> offline.BulkPreview:
    preview = offline.parse_bulk(data, filename)
    known = {f.number for f in notice.findings if f.active} if notice else set()
    offline.check_findings(preview, known)
    preview.errors.sort(key=lambda e: (e.row, e.column))
    return preview


def _render_preview(
    preview: offline.BulkPreview,
    data: bytes,
    filename: str,
    notice: Notice | None,
    status: int = 200,
) -> tuple[str, int]:
    # Only a file that passed every check is kept for the confirmation step.
    confirm = BulkConfirmForm(
        notice=notice.slug if notice else "none",
        filename=filename,
        token=keep_pending(data) if preview.ok else "",
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
        status if preview.ok else 422,
    )


# The uploaded file waits for the confirmation in the instance folder, Fernet-encrypted (it
# holds personal data), named after its uploader, for at most a day. Sending it back through
# the page instead would hit the form-field size limit (500 KB) with a few dozen long letters.
PENDING_TTL = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _pending_path(token: str) -> Path | None:
    if not _TOKEN.match(token or ""):
        return None
    return Path(current_app.instance_path) / "bulk-pending" / f"{current_user.id}-{token}"


def _pending_fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derived_key("bulk-pending")))


def keep_pending(data: bytes) -> str:
    folder = Path(current_app.instance_path) / "bulk-pending"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - PENDING_TTL
    for old in folder.iterdir():  # abandoned previews
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    path = _pending_path(token)
    assert path is not None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_pending_fernet().encrypt(data))
    return token


def take_pending(token: str) -> bytes | None:
    """The file a preview kept for this user, removed from disk; None if gone or expired."""
    path = _pending_path(token)
    if path is None:
        return None
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    try:
        return _pending_fernet().decrypt(blob, ttl=PENDING_TTL)
    except InvalidToken:
        return None


@bp.post("/bulk")
@roles_required(*ROLES)
def bulk_preview() -> Any:
    notices = _published_notices()
    form = BulkUploadForm()
    notice = _chosen_notice(form.notice.data, notices)
    upload = form.file.data
    if not form.validate() or not isinstance(upload, FileStorage) or not upload.filename:
        form.file.errors = [*form.file.errors, _("请选择要导入的CSV或XLSX文件。")]
        return _render_bulk(form, notice, notices, 422)
    data = upload.read()
    return _render_preview(_preview(data, upload.filename, notice), data, upload.filename, notice)


@bp.post("/bulk/confirm")
@roles_required(*ROLES)
def bulk_confirm() -> Any:
    form = BulkConfirmForm()
    if not form.validate():
        abort(400)
    notices = _published_notices()
    notice = _chosen_notice(form.notice.data, notices)
    data = take_pending(form.token.data or "")
    if data is None:
        upload_form = BulkUploadForm(notice=notice.slug if notice else "none")
        upload_form.file.errors = [_("预览已过期或已导入过，请重新上传文件。")]
        return _render_bulk(upload_form, notice, notices, 410)
    filename = form.filename.data or "upload.csv"
    # Checked again: the confirmation must import exactly what passes the rules now.
    preview = _preview(data, filename, notice)
    if not preview.ok:
        return _render_preview(preview, data, filename, notice)
    digest = hashlib.sha256(data).hexdigest()
    try:
        receipts = import_rows(preview.rows, notice, digest, filename)
    except BulkRowRejected as exc:
        preview.errors = exc.errors
        return _render_preview(preview, data, filename, notice, 422)
    return render_template(
        "intake/staff_bulk_done.html",
        results=list(zip(preview.rows, receipts, strict=True)),
        filename=filename,
        secret_groups=_secret_groups,
        codes=",".join(r.code for r in receipts),
    )


class BulkRowRejected(Exception):
    def __init__(self, errors: list[offline.RowError]) -> None:
        super().__init__("; ".join(e.text for e in errors))
        self.errors = errors


def import_rows(
    rows: list[offline.BulkRow], notice: Notice | None, digest: str, filename: str
) -> list[Receipt]:
    """Record every row through the one door in ONE transaction: all rows or none.

    record_submission(commit=False) only flushes; any failure rolls the whole session back.
    The dedupe key (file hash + row) refuses a second import of the same file.
    """
    receipts: list[Receipt] = []
    closes = notice.feedback_closes_at if notice else None
    try:
        for row in rows:
            receipts.append(_record_row(row, notice, closes, digest))
        audit.record(
            "intake.bulk_import",
            object_type="notice" if notice else None,
            object_id=notice.id if notice else None,
            details={"filename": filename, "sha256": digest, "rows": len(rows)},
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return receipts


def _record_row(
    row: offline.BulkRow, notice: Notice | None, closes: datetime | None, digest: str
) -> Receipt:
    received_at = row.called_at or offline.received_moment(row.received_on, utcnow())
    postmark = row.postmarked_on if row.channel == "letter" else None
    contact = None
    if row.has_contact and not row.anonymous:
        phone = row.phone
        contact = Contact(
            name=row.name,
            phone=(normalise_phone(phone) or phone) if phone else None,
            email=row.email,
            address=row.full_address,
        )
    try:
        return record_submission(
            Incoming(
                channel=row.channel,
                body=row.body,
                notice=notice,
                subject=row.subject,
                findings=row.findings,
                contact=contact,
                anonymous=row.anonymous,
                consent=contact is not None and row.consent,
                received_at=received_at,
                postmarked_on=postmark,
                late=offline.is_late(closes, received_at, postmark),
                channel_details=row.channel_details(),
                dedupe_key=f"bulk:{digest[:40]}:{row.row}",
            ),
            commit=False,
        )
    except SubmissionRejected as exc:
        raise BulkRowRejected(
            [
                offline.RowError(row.row, SERVICE_COLUMNS.get(name, name), message)
                for name, message in exc.errors.items()
            ]
        ) from exc
    except DuplicateSubmission as exc:
        message = _("此文件已经导入过（该行登记为回执%(code)s），本次未重复导入。", code=exc.code)
        raise BulkRowRejected([offline.RowError(row.row, "", message)]) from exc


def local_received_text(moment: datetime) -> str:
    local = to_local(moment)
    return f"{offline.chinese_date(local.date())} {local:%H:%M}"


@bp.app_template_filter("intake_local_time")
def _local_time_filter(moment: datetime | None) -> str:
    return local_received_text(moment) if moment else ""
