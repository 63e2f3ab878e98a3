"""The public forms: feedback, tracking login, follow-up. Field names are a contract (DESIGN.md).

Messages are in Chinese (English through Flask-Babel) and sit beside the field they concern.
Text is checked after the same normalisation record_submission applies (NFC, control characters
removed), so the limits the citizen sees are the limits the service enforces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, Field, MultipleFileField, StringField, TextAreaField
from wtforms.validators import Email, Length, Optional, ValidationError

from portal.intake.limits import EMAIL_MAX, NAME_MAX, WEB_BODY_MAX, WEB_BODY_MIN
from portal.intake.sanitize import normalise_text
from portal.intake.service import IncomingFile

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
        """Files actually chosen (a browser sends one empty part when none is)."""
        return [f for f in self.attachments.data or () if isinstance(f, FileStorage) and f.filename]


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
        return [f for f in self.attachments.data or () if isinstance(f, FileStorage) and f.filename]


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


def incoming_files(files: list[Any]) -> list[IncomingFile]:
    return [
        IncomingFile(filename=f.filename, data=f.read(), content_type=f.mimetype) for f in files
    ]
