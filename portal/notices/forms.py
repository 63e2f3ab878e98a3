"""The editors' notice forms (Flask-WTF: every form carries csrf_token)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from portal.notices.models import FINDING_STATUSES
from portal.notices.service import decode_source

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,99}$"


def _optional_int(value: Any) -> int | None:
    """A select's id, or None for empty or forged input (validate_office then says why)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class SourceForm(FlaskForm):
    """Step 1 (and 2): the notice's text, pasted or uploaded; `step` is preview or save.

    Once it validates, ``source`` holds the text: the upload when one was chosen (UTF-8 or
    GB18030), else what was pasted.
    """

    text = TextAreaField(_l("公示全文"), validators=[Optional(), Length(max=500_000)])
    file = FileField(_l("或上传文本文件（UTF-8 或 GBK/GB18030 编码的 .txt）"))
    slug = StringField(
        _l("网址名称（slug）"),
        validators=[Optional(), Regexp(SLUG_RE, message=_l("只能使用小写字母、数字和连字符。"))],
    )
    # The publishing office (only offices where the editor is one) and the round it answers;
    # the views fill the choices. A revision keeps its office, so revise forms drop `office`.
    office = SelectField(_l("发布单位"), coerce=_optional_int, validate_choice=False)
    round = SelectField(_l("巡察轮次"), validate_choice=False)
    step = HiddenField(default="preview")
    source: str = ""

    def validate_office(self, field: SelectField) -> None:
        if field.data not in {value for value, _label in field.choices or []}:
            raise ValidationError(_l("请选择您负责的单位。"))

    def validate_round(self, field: SelectField) -> None:
        if (field.data or "") not in {value for value, _label in field.choices or []}:
            raise ValidationError(_l("请选择列表中的巡察轮次。"))

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        if not super().validate(extra_validators=extra_validators):
            return False
        upload = self.file.data
        if upload and getattr(upload, "filename", ""):
            raw = upload.read(MAX_UPLOAD_BYTES + 1)
            if len(raw) > MAX_UPLOAD_BYTES:
                self.file.errors = [_l("文件过大（不超过2MB）。")]
                return False
            self.source = decode_source(raw, errors="replace")
            return True
        if self.text.data and self.text.data.strip():
            self.source = self.text.data
            return True
        self.text.errors = [_l("请粘贴公示全文或上传文件。")]
        return False


class PublishForm(FlaskForm):
    warnings_checked = BooleanField(_l("我已逐条核对上述解析警告"))


class WithdrawForm(FlaskForm):
    note = TextAreaField(
        _l("撤回说明（公开显示）"),
        validators=[DataRequired(_l("请填写撤回说明。")), Length(max=500)],
    )


class StatusForm(FlaskForm):
    status = SelectField(_l("整改状态"), choices=[SelectChoice(s, s) for s in FINDING_STATUSES])
    effective_on = DateField(_l("日期"), validators=[DataRequired(_l("请填写日期。"))])
    note = TextAreaField(
        _l("公开说明"), validators=[DataRequired(_l("请填写说明。")), Length(max=1000)]
    )


class WindowForm(FlaskForm):
    """The feedback window, typed and shown in Asia/Shanghai (the zone intake enforces it in)."""

    opens = DateTimeLocalField(_l("开始时间（北京时间）"), validators=[Optional()])
    closes = DateTimeLocalField(_l("截止时间（北京时间）"), validators=[Optional()])

    def validate_closes(self, field: DateTimeLocalField) -> None:
        if field.data and self.opens.data and field.data <= self.opens.data:
            raise ValidationError(_l("截止时间须晚于开始时间。"))
