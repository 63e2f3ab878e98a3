"""Staff forms (Flask-WTF: every form carries csrf_token). Field names are a contract."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from portal.staff.models import ROLE_LABELS, ROLES
from portal.staff.passwords import password_problems


class LoginForm(FlaskForm):
    email = StringField("邮箱", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(
        "验证码",
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class EnrolForm(CodeForm):
    pass


def _policy(form: FlaskForm, field: PasswordField) -> None:
    email = getattr(getattr(form, "email_hint", None), "data", None)
    problems = password_problems(field.data or "", email=email)
    if problems:
        raise ValidationError(" ".join(problems))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired()])
    new_password = PasswordField("新密码", validators=[DataRequired(), Length(max=1024), _policy])
    confirm = PasswordField(
        "再次输入新密码", validators=[DataRequired(), EqualTo("new_password", "两次输入不一致。")]
    )


class UserCreateForm(FlaskForm):
    # A plain shape check: internal addresses (name@office.local) are valid staff logins.
    email = EmailField(
        "邮箱",
        validators=[
            DataRequired(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+$", message="邮箱格式不正确。"),
        ],
    )
    display_name = StringField("姓名", validators=[Length(max=120)])
    role = SelectField("角色", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    password = PasswordField("初始密码", validators=[DataRequired(), Length(max=1024), _policy])


class ConfirmForm(FlaskForm):
    """A bare POST form: CSRF token plus an optional confirmation box."""

    confirm = BooleanField("确认")
