"""Forms of the triage pages: the queue's bulk actions and saved views, every action on a
submission's detail page, replies and their publication, and the printed reply letter.

Field names are what the templates post (tests pin them). Every form but the letter's carries
csrf_token. Rules that need the database or the workflow (is this user assignable, may this
status follow that one) stay in the service functions, which raise messages staff can act on;
the forms turn posted text into typed values. A value no page of ours posts (a word where an id
belongs) makes the request malformed: ``malformed(form)`` tells the view to answer 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    FloatField,
    HiddenField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, ValidationError

from portal.intake.limits import EMAIL_MAX
from portal.triage import queue
from portal.triage.workflow import STATUSES

BULK_ACTIONS = ("assign", "status", "finding")


class IdListField(Field):
    """A repeated numeric field (ids=3&ids=7), as a list of ints."""

    data: list[int]

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            self.data = [int(value) for value in valuelist]
        except ValueError:
            self.data = []
            raise ValueError(_l("编号无效。")) from None

    def _value(self) -> str:  # pragma: no cover - rendered by the queue's checkboxes
        return ""


class AssigneeField(Field):
    """A user id, or "none" (or nothing) for no assignee."""

    data: int | None

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0] if valuelist else ""
        self.data = None
        if raw in ("", "none"):
            return
        try:
            self.data = int(raw)
        except ValueError:
            raise ValueError(_l("没有这个用户。")) from None

    def _value(self) -> str:  # pragma: no cover - rendered by the templates' selects
        return "none" if self.data is None else str(self.data)


class ChoiceIdField(Field):
    """An id chosen in a select whose first option is empty: nothing chosen is None (a
    validator's message), a word is malformed."""

    data: int | None

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not raw:
            return
        try:
            self.data = int(raw)
        except ValueError:
            raise ValueError(_l("编号无效。")) from None

    def _value(self) -> str:  # pragma: no cover - rendered by the templates' selects
        return "" if self.data is None else str(self.data)


def _chosen(message: str) -> Any:
    def check(_form: FlaskForm, field: ChoiceIdField) -> None:
        if field.data is None and not field.errors:
            raise ValidationError(message)

    return check


def malformed(form: FlaskForm) -> bool:
    """Whether a field could not even be read (left after validation, which an Optional
    validator may clear): something our pages never post."""
    return any(error in field.errors for field in form for error in field.process_errors)


def first_error(form: FlaskForm) -> str:
    """The first validation message, for a flash."""
    for field in form:
        if field.errors:
            return str(field.errors[0])
    return str(_l("提交的内容无效。"))


def _stripped_or_none(value: Any) -> Any:
    return (value.strip() or None) if isinstance(value, str) else value


# --- the queue --------------------------------------------------------------------------------


class BulkForm(FlaskForm):
    """One action on the rows ticked in the queue; only the fields of that action count."""

    ids = IdListField()
    action = StringField(validators=[AnyOf(BULK_ACTIONS, message=_l("未知的批量操作。"))])
    assignee = AssigneeField()
    status = StringField()
    finding = IntegerField()
    reason = StringField()
    back = HiddenField()  # the queue's query string, to return to the same page

    def validate_status(self, field: StringField) -> None:
        if self.action.data == "status" and field.data not in STATUSES:
            raise ValidationError(_l("请选择状态。"))

    def validate_finding(self, field: IntegerField) -> None:
        if self.action.data == "finding" and field.data is None:
            raise ValidationError(_l("请选择问题。"))


class SaveViewForm(FlaskForm):
    """A saved view: its name, and beside it the queue's filter arguments as the queue page
    reads them from its query string (``filters`` once the form validates)."""

    name = StringField(validators=[DataRequired(_l("请填写视图名称。"))])

    def process(self, formdata: Any = None, obj: Any = None, **kwargs: Any) -> None:
        self._posted: Mapping[str, Any] = self.meta.wrap_formdata(self, formdata) or {}
        super().process(self._posted or None, obj, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        try:
            self.filters = queue.parse_filter(self._posted)
        except queue.BadFilter as exc:
            self.name.errors.append(_l("筛选条件“%(filter)s”无效，已清除。", filter=exc))
            return False
        return True


# --- a submission's detail page ---------------------------------------------------------------


class FindingForm(FlaskForm):
    finding = IntegerField(validators=[InputRequired()])
    op = StringField()  # "remove"; anything else confirms
    score = FloatField(validators=[Optional()])  # the Router's score of a suggestion

    @property
    def removes(self) -> bool:
        return self.op.data == "remove"


class DismissForm(FlaskForm):
    """A suggested finding staff judge wrong for this submission."""

    finding = IntegerField(validators=[InputRequired()])


class NoteForm(FlaskForm):
    body = TextAreaField()


class AssignForm(FlaskForm):
    assignee = AssigneeField()


class StatusForm(FlaskForm):
    status = StringField()
    reason = TextAreaField()


class MergeForm(FlaskForm):
    original = StringField(filters=[_stripped_or_none])  # the original's receipt code
    reason = StringField()


def _referral_address(form: FlaskForm, field: StringField) -> None:
    address = field.data
    if address and ("@" not in address or len(address) > EMAIL_MAX or not address.isprintable()):
        raise ValidationError(_l("转办邮箱地址无效。"))


class ReferForm(FlaskForm):
    body_name = StringField()
    contact = StringField()
    email = StringField(filters=[_stripped_or_none], validators=[_referral_address])
    note = TextAreaField()
    reason = StringField()
    letter = BooleanField()


class RevealForm(FlaskForm):
    reason = StringField()


class RouteForm(FlaskForm):
    """The routing desk: the office chosen for an unrouted submission (and its notice)."""

    office = ChoiceIdField(validators=[_chosen(_l("请选择单位。"))])
    notice = ChoiceIdField()
    back = HiddenField()  # the desk's query string, to return to the same page


# --- replies ----------------------------------------------------------------------------------


class ReplyForm(FlaskForm):
    body = TextAreaField()
    publish = BooleanField()


class ApproveForm(FlaskForm):
    question = TextAreaField()
    answer = TextAreaField()
    finding_id = IntegerField(validators=[Optional()])


class RejectForm(FlaskForm):
    reason = StringField()


class LetterForm(FlaskForm):
    """The printed reply letter: staff may edit the text and the date before printing."""

    class Meta:
        csrf = False  # also sent by GET (a preview that changes nothing)

    reply = TextAreaField(_l("答复内容"), validators=[Length(max=20_000)])
    letter_date = DateField(_l("落款日期"), validators=[Optional()])
    # The reply the letter starts from when no text is given; else the newest reply.
    reply_id = IntegerField(validators=[Optional()])


# --- canned replies ---------------------------------------------------------------------------


class CannedReplyForm(FlaskForm):
    """One canned reply of an office: for one of its findings, or general (finding left empty)."""

    office = IntegerField(validators=[InputRequired()])
    finding = IntegerField(_l("适用的问题"), validators=[Optional()])
    title = StringField(_l("标题"), validators=[Length(max=200)])
    body = TextAreaField(_l("答复内容"), validators=[Length(max=20_000)])


class RetireForm(FlaskForm):
    retire = BooleanField()
