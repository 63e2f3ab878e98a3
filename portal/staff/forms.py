"""Staff forms (Flask-WTF: every form carries csrf_token). Field names are a contract."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from portal.staff.models import ROLE_LABELS, ROLES
from portal.staff.passwords import password_problems


class LoginForm(FlaskForm):
    email = StringField(_l("邮箱"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("验证码"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class EnrolForm(CodeForm):
    pass


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
    role = SelectField(_l("角色"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(), Length(max=1024)])

    def validate_password(self, field: PasswordField) -> None:
        _check_policy(field.data or "", email=self.email.data)  # the password must differ


class ConfirmForm(FlaskForm):
    """A bare POST form: CSRF token plus an optional confirmation box."""

    confirm = BooleanField(_l("确认"))
