"""The editors' notice forms (Flask-WTF: every form carries csrf_token)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask import request
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
from portal.notices.parse import ROLES, NoticeFormatError, carry_over, extract_text
from portal.notices.preview import shown_roles

# Notices are text: a Word file with a few pictures stays well under this (the request cap,
# MAX_CONTENT_LENGTH, is larger, so the editor gets this message rather than a bare 413).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,99}$"
NOTE_MAX = 300
_ROLE_FIELD = re.compile(r"^role-([1-9][0-9]{0,5})$")
_GIVEN_ITEM = re.compile(r"^([1-9][0-9]{0,5})=([a-z]+)$")


# The role editor's choices, in ROLES order; people see these words, never the codes.
ROLE_LABELS: dict[str, Any] = {
    "title": _l("标题"),
    "preamble": _l("导语"),
    "category": _l("问题类别"),
    "finding": _l("问题"),
    "measure": _l("整改措施"),
    "narrative": _l("正文（不属于问题）"),
    "plan": _l("下一步打算"),
    "contacts": _l("联系方式"),
    "signature": _l("落款"),
    "dropped": _l("网站文字（不发布）"),
}


def chosen_roles(fields: Mapping[str, str]) -> dict[int, str]:
    """The `role-<line>` selects of the preview's role editor: {line: role}; fields with another
    name, a line number out of range or a role outside ROLES are ignored (forged input)."""
    roles: dict[int, str] = {}
    for name, value in fields.items():
        match = _ROLE_FIELD.match(name)
        if match and value in ROLES:
            roles[int(match.group(1))] = value
    return roles


def encode_given(roles: Mapping[int, str]) -> str:
    """The editor's explicit role choices as one hidden field: "5=finding;9=measure"."""
    return ";".join(f"{line}={role}" for line, role in sorted(roles.items()))


def decode_given(value: str | None) -> dict[int, str]:
    """Inverse of encode_given; malformed items are dropped, never raised on."""
    roles: dict[int, str] = {}
    for item in (value or "").split(";"):
        match = _GIVEN_ITEM.match(item.strip())
        if match and match.group(2) in ROLES:
            roles[int(match.group(1))] = match.group(2)
    return roles


def _optional_int(value: Any) -> int | None:
    """A select's id, or None for empty or forged input (validate_office then says why)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class SourceForm(FlaskForm):
    """Step 1 (and 2): the notice's text, pasted or uploaded; `step` is preview or save.

    Once it validates, ``source`` holds the text: the upload's (.txt, .docx, PDF or the
    notice's web page, read by parse.extract_text) when one was chosen, else what was pasted.
    """

    text = TextAreaField(_l("公示全文"), validators=[Optional(), Length(max=500_000)])
    file = FileField(_l("或上传文件（.txt、Word .docx、带文字的PDF、公示网页 .html，不超过10MB）"))
    slug = StringField(
        _l("网址名称（slug）"),
        validators=[Optional(), Regexp(SLUG_RE, message=_l("只能使用小写字母、数字和连字符。"))],
    )
    # The publishing office (only offices where the editor is one) and the round it answers;
    # the views fill the choices. A revision keeps its office, so revise forms drop `office`.
    office = SelectField(_l("发布单位"), coerce=_optional_int, validate_choice=False)
    round = SelectField(_l("巡察轮次"), validate_choice=False)
    step = HiddenField(default="preview")
    # The editor's explicit line roles across preview round trips (see encode_given); absent
    # on the first preview, when a revision starts from the roles of the one before.
    given_roles = HiddenField()
    # 修订说明: required when revising a published notice (the views decide), shown publicly.
    note = TextAreaField(
        _l("修订说明（公开显示）"),
        validators=[Optional(), Length(max=NOTE_MAX, message=_l("修订说明不能超过300字。"))],
    )
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
            return self._read_upload(upload)
        if self.text.data and self.text.data.strip():
            self.source = self.text.data
            return True
        self.text.errors = [_l("请粘贴公示全文或上传文件。")]
        return False

    def from_preview(self) -> bool:
        """Posted from the preview page (it carries the role choices), the text intact."""
        return "given_roles" in request.form and bool((self.text.data or "").strip())

    def given_for(self, text: str, carried: Mapping[int, str]) -> dict[int, str]:
        """The editor's explicit line roles for `text`: those of the preview's hidden field
        (moved to the same lines if the text was edited since; `carried`, the last revision's,
        when there is no such field), plus each role select now set to something other than
        what the preview showed. Only changed selects need be sent."""
        if "given_roles" in request.form:
            given = decode_given(self.given_roles.data)
            base = request.form.get("roles_text")
            if base is not None and base != text:
                given = carry_over(base, given, text)
        else:
            given = dict(carried)
        chosen = chosen_roles(request.form)
        if not chosen:
            return given
        shown = {row.line: row.role for row in shown_roles(text, given)}
        for line, role in chosen.items():
            if shown.get(line, role) != role:
                given[line] = role
        return given

    def _read_upload(self, upload: Any) -> bool:
        raw = upload.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            self.file.errors = [_l("文件过大：上传的文件不能超过10MB。")]
            return False
        try:
            text = extract_text(raw, upload.filename or "", upload.mimetype)
        except NoticeFormatError as exc:
            self.file.errors = [_l("无法读取该文件：%(why)s", why=str(exc))]
            return False
        if not text.strip():
            self.file.errors = [_l("文件中没有可读取的文字。")]
            return False
        self.source = text
        return True


class PublishForm(FlaskForm):
    """Publishing takes two posts: the first shows the confirmation (title and counts), the
    second, with `confirmed`, publishes."""

    warnings_checked = BooleanField(_l("我已逐条核对上述解析警告"))
    confirmed = HiddenField()


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
