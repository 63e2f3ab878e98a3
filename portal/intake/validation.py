"""The door's checks on what a channel hands in: body, addresses, findings, attachments.

Each check adds a form field's Chinese message to ``errors`` and returns the cleaned value, so
one refusal lists every problem at once (the web form shows them beside their fields).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from portal.caching import notice_cache
from portal.extensions import db
from portal.intake import attachments as files
from portal.intake.limits import (
    ADDRESS_MAX,
    NAME_MAX,
    OTHER_BODY_MAX,
    PHONE,
    WEB_BODY_MAX,
    WEB_BODY_MIN,
    body_max,
)
from portal.intake.sanitize import normalise_text
from portal.notices.models import Finding, Notice

if TYPE_CHECKING:
    from portal.intake.service import Contact, IncomingFile


def clean_text(text: str | None) -> str:
    return normalise_text(text or "").strip()


def check_body(body: str, channel: str, errors: dict[str, str]) -> str:
    text = clean_text(body)
    if channel == "web":
        if len(text) < WEB_BODY_MIN:
            errors["body"] = _("意见内容至少需要%(n)s个字。", n=WEB_BODY_MIN)
        elif len(text) > WEB_BODY_MAX:
            errors["body"] = _(
                "意见内容不能超过%(max)s个字（现有%(n)s个字）。", max=WEB_BODY_MAX, n=len(text)
            )
    elif not text:
        errors["body"] = _("意见内容不能为空。")
    elif len(text) > OTHER_BODY_MAX:
        errors["body"] = _("意见内容不能超过%(max)s个字。", max=OTHER_BODY_MAX)
    return text


def check_follow_up_body(body: str, channel: str, has_files: bool, errors: dict[str, str]) -> str:
    """A follow-up may be files alone; its text has the channel's limit (mail is long)."""
    text = clean_text(body)
    if not text and not has_files and "attachments" not in errors:
        errors["body"] = _("请填写补充内容或上传附件。")
    elif len(text) > body_max(channel):
        errors["body"] = _("补充内容不能超过%(max)s个字。", max=body_max(channel))
    return text


def check_email(value: str | None, field_name: str, errors: dict[str, str]) -> str | None:
    text = clean_text(value)
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        errors[field_name] = _("邮箱地址格式不正确，请检查。")
        return text


def check_contact(
    contact: Contact, channel: str, anonymous: bool, consent: bool, errors: dict[str, str]
) -> Contact:
    cleaned = dataclasses.replace(
        contact,
        name=clean_text(contact.name) or None,
        phone=clean_text(contact.phone) or None,
        email=check_email(contact.email, "contact_email", errors),
        address=clean_text(contact.address) or None,
    )
    if cleaned.name and len(cleaned.name) > NAME_MAX:
        errors["contact_name"] = _("姓名不能超过%(max)s个字。", max=NAME_MAX)
    if cleaned.address and len(cleaned.address) > ADDRESS_MAX:
        errors["contact_address"] = _("地址不能超过%(max)s个字。", max=ADDRESS_MAX)
    if cleaned.phone and not PHONE.match(cleaned.phone):
        errors["contact_phone"] = _("电话号码格式不正确，请填写手机号码或带区号的固定电话。")
    if channel == "web" and not cleaned.is_empty():
        if anonymous:
            errors["anonymous"] = _("选择匿名提交时请不要填写联系方式。")
        elif not consent:
            errors["consent"] = _("填写了联系方式时，请先阅读并同意个人信息处理说明。")
    return cleaned


def check_findings(
    notice: Notice | None, numbers: Sequence[int], errors: dict[str, str]
) -> list[tuple[int, int]]:
    """(number, finding id) for each chosen finding, in the submitter's order."""
    wanted: list[int] = []
    for number in numbers:
        try:
            value = int(number)
        except (TypeError, ValueError):
            errors["findings"] = _("问题编号“%(number)s”无效。", number=number)
            return []
        if value not in wanted:
            wanted.append(value)
    if not wanted:
        return []
    if notice is None:
        errors["findings"] = _("未指定公示，无法关联问题编号。")
        return []
    active = _active_findings(notice)
    unknown = [n for n in wanted if n not in active]
    if unknown:
        errors["findings"] = _(
            "公示中没有编号为%(numbers)s的问题。", numbers=_("、").join(map(str, unknown))
        )
        return []
    return [(n, active[n]) for n in wanted]


def _active_findings(notice: Notice) -> dict[int, int]:
    """{number: id} of the notice's active findings. Every web submission checks its findings
    and they change only with a new notice version, which is part of the key."""
    notice_id = notice.id

    def load() -> dict[int, int]:
        rows = db.session.execute(
            select(Finding.number, Finding.id).where(Finding.notice_id == notice_id, Finding.active)
        )
        return {number: finding_id for number, finding_id in rows}

    found: dict[int, int] = notice_cache("active_findings").get_or_make(
        (notice_id, notice.version), load
    )
    return found


def check_attachments(
    incoming: Sequence[IncomingFile], errors: dict[str, str]
) -> list[files.CheckedFile]:
    try:
        return files.check_files(incoming, files.Limits.from_config(current_app.config))
    except files.AttachmentRefused as exc:
        errors["attachments"] = exc.message
        return []
