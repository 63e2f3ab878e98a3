"""Forms of the offices and rounds pages (admin). Field names match the Office and Round
columns, so the view copies them by name; the IMAP password is write-only."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"
SLUG_MESSAGE = _l("网址名只能用小写字母、数字和连字符，且以字母或数字开头。")
POSTCODE = Regexp(r"^\d{6}$", message=_l("邮编是6位数字。"))
ADDRESS_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _slug_field(label: str) -> StringField:
    return StringField(
        label,
        validators=[
            DataRequired(_l("请填写网址名。")),
            Regexp(SLUG_PATTERN, message=SLUG_MESSAGE),
        ],
        render_kw={"autocapitalize": "none", "spellcheck": "false"},
    )


class OfficeCreateForm(FlaskForm):
    slug = _slug_field(_l("网址名（公开网址 /offices/网址名）"))
    name = StringField(
        _l("单位全称"), validators=[DataRequired(_l("请填写单位名称。")), Length(max=200)]
    )
    short_name = StringField(_l("简称"), validators=[Optional(), Length(max=60)])


# Office columns the edit form sets as typed (text; blank stores None where the column may be).
TEXT_FIELDS = (
    "name",
    "short_name",
    "contact_phone",
    "contact_email",
    "contact_address",
    "contact_postcode",
    "letterhead",
    "return_address",
    "return_postcode",
    "mail_addresses",
    "imap_host",
    "imap_user",
    "imap_folder",
    "imap_move_to",
)
VALUE_FIELDS = (
    "imap_port",
    "imap_ssl",
    "imap_starttls",
    "ack_within_workdays",
    "reply_within_workdays",
    "active",
)
WORKDAYS = NumberRange(1, 60, message=_l("请填写1到60之间的工作日数。"))


class OfficeEditForm(FlaskForm):
    name = StringField(
        _l("单位全称"), validators=[DataRequired(_l("请填写单位名称。")), Length(max=200)]
    )
    short_name = StringField(_l("简称"), validators=[Optional(), Length(max=60)])
    contact_phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=80)])
    contact_email = EmailField(
        _l("电子邮箱"),
        validators=[
            Optional(),
            Regexp(ADDRESS_RE, message=_l("邮箱格式不正确。")),
            Length(max=200),
        ],
    )
    contact_address = StringField(_l("通信地址"), validators=[Optional(), Length(max=300)])
    contact_postcode = StringField(_l("邮编"), validators=[Optional(), POSTCODE])
    letterhead = StringField(_l("信函抬头"), validators=[Optional(), Length(max=200)])
    return_address = StringField(_l("回信地址"), validators=[Optional(), Length(max=300)])
    return_postcode = StringField(_l("回信邮编"), validators=[Optional(), POSTCODE])
    mail_addresses = TextAreaField(
        _l("本单位收信地址（共享邮箱分拣用，每行一个）"),
        validators=[Optional(), Length(max=4000)],
    )
    imap_host = StringField(_l("IMAP 服务器"), validators=[Optional(), Length(max=255)])
    imap_port = IntegerField(
        _l("IMAP 端口"),
        validators=[Optional(), NumberRange(1, 65535, message=_l("端口是1到65535之间的数字。"))],
    )
    imap_user = StringField(_l("IMAP 用户名"), validators=[Optional(), Length(max=255)])
    # Write-only: never rendered back; blank keeps the stored password.
    imap_password = PasswordField(
        _l("IMAP 密码"),
        validators=[Optional(), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    imap_folder = StringField(_l("收件文件夹"), validators=[Optional(), Length(max=255)])
    imap_ssl = BooleanField(_l("使用 SSL/TLS 连接"))
    imap_starttls = BooleanField(_l("使用 STARTTLS"))
    imap_move_to = StringField(_l("处理后移至文件夹"), validators=[Optional(), Length(max=255)])
    ack_within_workdays = IntegerField(
        _l("确认收到时限（工作日）"), validators=[Optional(), WORKDAYS]
    )
    reply_within_workdays = IntegerField(
        _l("答复时限（工作日）"), validators=[Optional(), WORKDAYS]
    )
    active = BooleanField(_l("启用（在公示首页列出，接收意见）"))

    def validate_mail_addresses(self, field: TextAreaField) -> None:
        bad = [a.strip() for a in (field.data or "").splitlines() if a.strip()]
        bad = [a for a in bad if not ADDRESS_RE.match(a)]
        if bad:
            raise ValidationError(_l("以下地址格式不正确：%(list)s", list="、".join(bad[:5])))

    def validate_imap_starttls(self, field: BooleanField) -> None:
        if field.data and self.imap_ssl.data:
            raise ValidationError(_l("SSL/TLS 与 STARTTLS 只能选一种。"))


class RoundForm(FlaskForm):
    slug = _slug_field(_l("网址名"))
    name = StringField(
        _l("轮次名称"),
        validators=[DataRequired(_l("请填写轮次名称。")), Length(max=200)],
        render_kw={"placeholder": _l("例如：十五届市委第五轮巡察")},
    )
    inspection_group = StringField(_l("巡察组"), validators=[Optional(), Length(max=200)])
    starts_on = DateField(_l("开始日期"), validators=[Optional()])
    ends_on = DateField(_l("结束日期"), validators=[Optional()])

    def validate_ends_on(self, field: DateField) -> None:
        if field.data and self.starts_on.data and field.data < self.starts_on.data:
            raise ValidationError(_l("结束日期不能早于开始日期。"))
