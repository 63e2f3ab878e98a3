"""Staff forms (Flask-WTF: every form carries csrf_token). Field names are a contract."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.staff.models import GLOBAL_ROLES, OFFICE_ROLES, ROLE_LABELS, ROLES
from portal.staff.passwords import password_problems


class LoginForm(FlaskForm):
    email = StringField(_l("邮箱"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    """The second factor: a TOTP or recovery code, or a security key's answer (filled in by
    static/js/staff.js)."""

    code = StringField(
        _l("验证码"),
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    webauthn = HiddenField(validators=[Optional(), Length(max=20000)])

    def validate_code(self, field: StringField) -> None:
        if not (field.data or "").strip() and not self.webauthn.data:
            raise ValidationError(_l("请输入验证码，或使用安全密钥。"))


class ReauthForm(CodeForm):
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=1024)])


class EnrolForm(FlaskForm):
    code = StringField(
        _l("验证码"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class SecurityKeyForm(FlaskForm):
    """Registers a security key: the browser's answer is put in ``webauthn`` by staff.js."""

    name = StringField(_l("密钥名称"), validators=[Optional(), Length(max=120)])
    webauthn = HiddenField(validators=[DataRequired(), Length(max=20000)])


class EnrolPasswordForm(FlaskForm):
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=1024)])


def _check_policy(password: str, *, email: str | None = None) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationError(" ".join(problems))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired()])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[DataRequired(), EqualTo("new_password", _l("两次输入不一致。"))],
    )

    def validate_new_password(self, field: PasswordField) -> None:
        _check_policy(field.data or "")


class UserCreateForm(FlaskForm):
    # A plain shape check: internal addresses (name@office.local) are valid staff logins.
    email = EmailField(
        _l("邮箱"),
        validators=[
            DataRequired(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("邮箱格式不正确。")),
        ],
    )
    display_name = StringField(_l("姓名"), validators=[Length(max=120)])
    role = SelectField(
        _l("角色"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES], default="viewer"
    )
    # For editor, triager and viewer: the offices where the role is held (the view fills the
    # choices). Not for admin or supervisor, who hold their role everywhere.
    offices = SelectMultipleField(
        _l("所属单位"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    password = PasswordField(_l("初始密码"), validators=[DataRequired(), Length(max=1024)])

    def validate_password(self, field: PasswordField) -> None:
        _check_policy(field.data or "", email=self.email.data)  # the password must differ

    def validate_offices(self, field: SelectMultipleField) -> None:
        chosen = set(field.data or [])
        allowed = {value for value, _label in field.choices or []}
        if chosen - allowed:
            raise ValidationError(_l("请选择列表中的单位。"))
        if self.role.data in GLOBAL_ROLES and chosen:
            raise ValidationError(_l("管理员和巡察办督查不属于某个单位，请不要勾选单位。"))
        if self.role.data in OFFICE_ROLES and not chosen and len(allowed) != 1:
            raise ValidationError(_l("请为编辑、办理人员或只读角色选择至少一个单位。"))


# The office roles an admin may give in one office, and "" to take the office away.
MEMBERSHIP_CHOICES = [SelectChoice(r, ROLE_LABELS[r]) for r in OFFICE_ROLES]


class MembershipForm(FlaskForm):
    """One office role of one user: set (add or change) or remove it."""

    office = SelectField(_l("单位"), coerce=int, validate_choice=False)
    role = SelectField(
        _l("角色"),
        choices=[*MEMBERSHIP_CHOICES, SelectChoice("", _l("移出该单位"))],
        default="triager",
    )

    def validate_office(self, field: SelectField) -> None:
        if field.data not in {value for value, _label in field.choices or []}:
            raise ValidationError(_l("请选择列表中的单位。"))


class RoleForm(FlaskForm):
    """An account's role: admin or supervisor everywhere, or an office role in one office."""

    role = SelectField(_l("改为"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    office = SelectField(
        _l("单位（编辑、办理人员、只读）"), coerce=lambda v: int(v or 0), validate_choice=False
    )

    def validate_office(self, field: SelectField) -> None:
        if self.role.data in GLOBAL_ROLES:
            return
        if not field.data or field.data not in {value for value, _label in field.choices or []}:
            raise ValidationError(_l("编辑、办理人员、只读角色须选择单位。"))


class ConfirmForm(FlaskForm):
    """A bare POST form: CSRF token plus an optional confirmation box."""

    confirm = BooleanField(_l("确认"))
