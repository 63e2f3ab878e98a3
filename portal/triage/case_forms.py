"""Forms of the case loop: rating an answer, opening /track with code + phone, asking the
submitter (pause), recording a rating for a phone or letter answer, "this was not me"."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from portal.triage.satisfaction import COMMENT_MAX, RATING_LABELS, RATINGS


def _strip(value: str | None) -> str:
    return (value or "").strip()


class RatingForm(FlaskForm):
    rating = RadioField(
        _l("您对答复是否满意？"),
        choices=[(r, RATING_LABELS[r]) for r in RATINGS],
        validators=[InputRequired(_l("请选择满意、基本满意或不满意。"))],
    )
    comment = TextAreaField(
        _l("意见或建议（可选）"),
        filters=[_strip],
        validators=[Length(max=COMMENT_MAX, message=_l("请不要超过%(max)d字。"))],
    )


class PhoneTrackForm(FlaskForm):
    code = StringField(_l("回执编号"), filters=[_strip], id="phone_code")
    phone = StringField(
        _l("提交时留下的电话号码"), filters=[lambda v: re.sub(r"[\s()+-]", "", v or "")]
    )

    def validate_code(self, field: StringField) -> None:
        from wtforms import ValidationError

        if not field.data:
            raise ValidationError(_l("请填写回执编号。"))

    def validate_phone(self, field: StringField) -> None:
        from wtforms import ValidationError

        if not field.data:
            raise ValidationError(_l("请填写提交意见时留下的电话号码。"))


class AskForm(FlaskForm):
    question = TextAreaField(
        _l("需要群众补充的问题"),
        filters=[_strip],
        validators=[
            InputRequired(_l("请填写需要群众补充的问题。")),
            Length(max=2000, message=_l("请不要超过%(max)d字。")),
        ],
    )


class NotMeForm(FlaskForm):
    note = TextAreaField(
        _l("说明（可选）"),
        filters=[_strip],
        validators=[Length(max=1000, message=_l("请不要超过%(max)d字。"))],
    )
