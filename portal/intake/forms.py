"""Every form of intake: the public ones (feedback, tracking login, follow-up) and the staff
ones (one letter, call, visit or box item; a bulk file's upload and confirmation).

Field names are a contract (DESIGN.md). Messages are in Chinese (English through Flask-Babel)
and sit beside the field they concern. Public text is checked after the same normalisation
record_submission applies (NFC, control characters removed), so the limits the citizen sees are
the limits the service enforces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    Field,
    FileField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional, ValidationError

from portal.intake import offline
from portal.intake.limits import (
    ADDRESS_WITHOUT_POSTCODE_MAX,
    EMAIL_MAX,
    NAME_MAX,
    OTHER_BODY_MAX,
    SUBJECT_MAX,
    WEB_BODY_MAX,
    WEB_BODY_MIN,
)
from portal.intake.models import CHANNEL_LABELS
from portal.intake.sanitize import normalise_text
from portal.intake.service import Contact, IncomingFile
from portal.workdays import local_date, local_to_utc, local_today, utcnow

# Mainland mobile, or landline with area code; +86/0086 prefix, spaces and hyphens allowed.
_COUNTRY_PREFIX = re.compile(r"^(?:\+|00)86")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# 0 + area code (2-3 digits) + 7-8 digits; after +86 the trunk 0 is usually dropped.
_LANDLINE = re.compile(r"0[1-9]\d{8,10}")
_LANDLINE_AFTER_86 = re.compile(r"0?[1-9]\d{8,10}")


def normalise_phone(raw: str) -> str | None:
    """Canonical phone ("13812345678", "0769-22366196") or None when it is not a valid one."""
    compact = re.sub(r"[\s\-]+", "", raw)
    had_prefix = bool(_COUNTRY_PREFIX.match(compact))
    digits = _COUNTRY_PREFIX.sub("", compact)
    if _MOBILE.fullmatch(digits):
        return digits
    if not (_LANDLINE_AFTER_86 if had_prefix else _LANDLINE).fullmatch(digits):
        return None
    if not digits.startswith("0"):
        digits = "0" + digits
    # Beijing (010) and the 02x cities have two-digit area codes; every other city three.
    split = 3 if digits[1] in "12" else 4
    return f"{digits[:split]}-{digits[split:]}"


class FindingsField(Field):
    """Repeatable finding numbers; rendered by the template as grouped checkboxes."""

    data: list[int]

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.allowed: set[int] = set()

    def process_formdata(self, valuelist: list[str]) -> None:
        numbers: list[int] = []
        for value in valuelist:
            try:
                numbers.append(int(value))
            except ValueError:
                raise ValueError(_l("所选问题编号无效，请重新选择。")) from None
        self.data = sorted(set(numbers))

    def _value(self) -> str:  # pragma: no cover - never rendered by the widget
        return ""

    def pre_validate(self, form: Any) -> None:
        unknown = [n for n in self.data or () if n not in self.allowed]
        if unknown:
            raise ValidationError(_l("所选问题不在本次公示中，请重新选择。"))


def _normalised(value: Any) -> Any:
    return normalise_text(value) if isinstance(value, str) else value


def _stripped(value: Any) -> Any:
    return normalise_text(value).strip() if isinstance(value, str) else value


def _trimmed(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _chosen_files(field: Field) -> list[FileStorage]:
    """Files actually chosen (a browser sends one empty part when none is)."""
    return [f for f in field.data or () if isinstance(f, FileStorage) and f.filename]


# --- public --------------------------------------------------------------------------------


class FeedbackForm(FlaskForm):
    body = TextAreaField(
        _l("意见内容"),
        filters=[_normalised],
        validators=[Length(max=WEB_BODY_MAX, message=_l("意见内容不超过%(max)d字。"))],
    )
    findings = FindingsField(_l("涉及的问题（可多选，可不选）"), default=list)
    contact_name = StringField(
        _l("姓名"),
        filters=[_stripped],
        validators=[Optional(), Length(max=NAME_MAX, message=_l("姓名不超过%(max)d字。"))],
    )
    contact_phone = StringField(_l("电话"), filters=[_stripped], validators=[Optional()])
    contact_email = StringField(
        _l("电子邮箱"),
        filters=[_stripped],
        validators=[
            Optional(),
            Length(max=EMAIL_MAX, message=_l("电子邮箱地址过长。")),
            Email(message=_l("电子邮箱地址格式不正确，例如 name@example.com。")),
        ],
    )
    anonymous = BooleanField(_l("匿名提交（不留任何联系方式）"))
    consent = BooleanField(_l("我已阅读并同意上述个人信息处理说明"))
    attachments = MultipleFileField(_l("附件（可选）"))
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill every field they see.
    website = StringField(_l("网站"), filters=[lambda v: (v or "").strip()])
    # Posted by the hCaptcha widget under this name; siteverify, not the form, judges it.
    captcha_response = StringField(name="h-captcha-response")

    def set_findings(self, numbers: Iterable[int]) -> None:
        self.findings.allowed = set(numbers)

    def validate_body(self, field: Field) -> None:
        text = (field.data or "").strip()
        if not text:
            raise ValidationError(_l("请填写意见内容。"))
        if len(text) < WEB_BODY_MIN:
            raise ValidationError(_l("意见内容至少%(n)s个字，请写得具体一些。", n=WEB_BODY_MIN))

    def validate_contact_phone(self, field: Field) -> None:
        if field.data and normalise_phone(field.data) is None:
            raise ValidationError(_l("电话号码格式不正确：请填写11位手机号或带区号的固定电话。"))

    def validate_consent(self, field: Field) -> None:
        if self.wants_contact and not field.data:
            raise ValidationError(_l("留下联系方式时，请勾选同意个人信息处理说明。"))

    @property
    def wants_contact(self) -> bool:
        """Contact fields count only when the citizen did not choose to stay anonymous."""
        if self.anonymous.data:
            return False
        return any((self.contact_name.data, self.contact_phone.data, self.contact_email.data))

    @property
    def honeypot_filled(self) -> bool:
        return bool(self.website.data)

    def uploaded_files(self) -> list[FileStorage]:
        return _chosen_files(self.attachments)


class TrackForm(FlaskForm):
    code = StringField(_l("回执编号"), filters=[lambda v: (v or "").strip()])
    secret = StringField(_l("查询密码"), filters=[lambda v: re.sub(r"[\s-]", "", v or "")])

    def validate_code(self, field: Field) -> None:
        if not field.data:
            raise ValidationError(_l("请填写回执编号。"))

    def validate_secret(self, field: Field) -> None:
        if not field.data:
            raise ValidationError(_l("请填写16位查询密码。"))


class FollowUpForm(FlaskForm):
    body = TextAreaField(
        _l("补充内容"),
        filters=[_normalised],
        validators=[Length(max=WEB_BODY_MAX, message=_l("补充内容不超过%(max)d字。"))],
    )
    attachments = MultipleFileField(_l("补充材料（可选）"))

    def validate_body(self, field: Field) -> None:
        if not (field.data or "").strip() and not self.uploaded_files():
            raise ValidationError(_l("请填写补充内容或选择文件。"))

    def uploaded_files(self) -> list[FileStorage]:
        return _chosen_files(self.attachments)


# --- staff ---------------------------------------------------------------------------------


_REQUIRED_DATE = {
    "": _l("请填写收到日期。"),
    "phone": _l("请填写来电时间（或来电日期）。"),
    "visit": _l("请填写来访日期。"),
    "box": _l("请填写开箱日期。"),
}


class StaffIntakeForm(FlaskForm):
    """One letter, call, visit or box item as staff type it in."""

    # Choices and the check come from office_choice (they depend on who is logged in).
    office = SelectField(_l("登记到单位"), choices=[], validate_choice=False)
    notice = HiddenField()
    channel = RadioField(
        _l("渠道"),
        choices=[SelectChoice(value, CHANNEL_LABELS[value]) for value in offline.STAFF_CHANNELS],
        default="letter",
        validators=[InputRequired(_l("请选择渠道。"))],
    )
    # Letters: the day received; visits: the day of the visit; the box: the day it was opened.
    # A call logged with its time needs no date (offline.needs_received_on).
    received_on = DateField(_l("收到日期"), validators=[Optional()])
    postmarked_on = DateField(_l("邮戳日期（信件）"), validators=[Optional()])
    letter_dated_on = DateField(_l("落款日期（信件）"), validators=[Optional()])
    contact_name = StringField(_l("姓名"), filters=[_trimmed], validators=[Length(max=NAME_MAX)])
    contact_phone = StringField(_l("电话"), filters=[_trimmed])
    contact_email = StringField(
        _l("电子邮箱"),
        filters=[_trimmed],
        validators=[Optional(), Email(_l("电子邮箱地址格式不正确。")), Length(max=EMAIL_MAX)],
    )
    contact_postcode = StringField(_l("邮编"), filters=[_trimmed])
    contact_address = StringField(
        _l("地址"), filters=[_trimmed], validators=[Length(max=ADDRESS_WITHOUT_POSTCODE_MAX)]
    )
    anonymous = BooleanField(_l("来信人/来电人要求匿名（不登记任何联系方式）"))
    consent = BooleanField(_l("对方同意我办用所留联系方式答复（信中留有回信地址视为同意）"))
    subject = StringField(_l("标题"), filters=[_trimmed], validators=[Length(max=SUBJECT_MAX)])
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
    line = StringField(_l("接听号码（我办电话）"), filters=[_trimmed], validators=[Length(max=40)])
    received_by = StringField(_l("接待人"), filters=[_trimmed], validators=[Length(max=NAME_MAX)])

    def validate(self, extra_validators: Any = None) -> bool:
        super().validate(extra_validators)
        self._drop_other_channels()
        ok = not any(field.errors for field in self)
        return self._check_rules() and ok

    def _drop_other_channels(self) -> None:
        """Another channel's fields (typed before switching, or shown without script) are
        neither checked nor recorded."""
        for name in offline.ignored_fields(self.channel.data):
            field = self[name]
            field.errors = []
            field.data = None

    def _check_rules(self) -> bool:
        ok = True

        def fail(field: Any, message: str) -> None:
            nonlocal ok
            field.errors = [*field.errors, message]
            ok = False

        if not (self.body.data or "").strip():
            fail(self.body, _l("请录入信件内容或通话、来访摘要。"))
        channel = self.channel.data
        if self.called_at.data:
            # The call's time dates it: a second date that must agree would only add typos.
            called = local_to_utc(self.called_at.data)
            if called > utcnow():
                fail(self.called_at, _l("来电时间不能晚于现在。"))
            self.received_on.errors = []
            self.received_on.data = local_date(called)
        elif offline.needs_received_on(channel, False) and not self.received_on.data:
            if not self.received_on.errors:
                # A call's error goes beside its time: the script hides the date field for calls.
                where = self.called_at if channel == "phone" else self.received_on
                fail(where, _REQUIRED_DATE.get(channel or "", _REQUIRED_DATE[""]))
            ok = False
        if self.received_on.data and self.received_on.data > local_today():
            fail(self.received_on, _l("收到日期不能晚于今天。"))
        received_on = self.received_on.data
        postmark = self.postmarked_on.data
        if postmark and received_on and postmark > received_on:
            fail(self.postmarked_on, _l("邮戳日期不能晚于收到日期。"))
        dated = self.letter_dated_on.data
        if dated and received_on and dated > received_on:
            fail(self.letter_dated_on, _l("落款日期不能晚于收到日期。"))
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
        if self.channel.data == "letter" and self.letter_dated_on.data:
            details["letter_dated_on"] = self.letter_dated_on.data.isoformat()
        elif self.channel.data == "box" and self.received_on.data:
            details["opened_on"] = self.received_on.data.isoformat()
        elif self.channel.data == "phone":
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
        return _chosen_files(self.attachments)


class BulkUploadForm(FlaskForm):
    office = SelectField(_l("登记到单位"), choices=[], validate_choice=False)
    notice = HiddenField()
    file = FileField(_l("CSV或XLSX文件"))

    def chosen_file(self) -> FileStorage | None:
        upload = self.file.data
        return upload if isinstance(upload, FileStorage) and upload.filename else None


class BulkConfirmForm(FlaskForm):
    office = HiddenField()
    notice = HiddenField()
    filename = HiddenField()
    token = HiddenField()  # names the uploaded file, kept encrypted until confirmed


# --- shared --------------------------------------------------------------------------------


def apply_service_errors(
    form: FlaskForm, errors: dict[str, str], fields: Sequence[str]
) -> list[str]:
    """Put SubmissionRejected.errors beside their fields; return those that fit no field."""
    unplaced: list[str] = []
    for name, message in errors.items():
        if name in fields and hasattr(form, name):
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        else:
            unplaced.append(message)
    return unplaced


def upload_limits() -> dict[str, int]:
    """The upload limits the page states (from config, never hard-coded)."""
    config = current_app.config
    return {
        "files": config["UPLOAD_MAX_FILES"],
        "file_mb": config["UPLOAD_MAX_FILE_BYTES"] // (1024 * 1024),
        "total_mb": config["UPLOAD_MAX_TOTAL_BYTES"] // (1024 * 1024),
    }


def incoming_files(files: Sequence[FileStorage]) -> list[IncomingFile]:
    return [
        IncomingFile(filename=f.filename or "", data=f.read(), content_type=f.mimetype)
        for f in files
    ]
