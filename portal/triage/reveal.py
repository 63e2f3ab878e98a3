"""A submitter's personal data on the detail page: masked for everyone, shown in clear only to
staff who give a reason, and every such look is an audit event (personal_data.view)."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l

from portal import audit
from portal.intake.models import Submission
from portal.intake.sanitize import normalise_text
from portal.personal_data import mask_address, mask_email, mask_name, mask_phone
from portal.triage.actions import ActionError

# The personal data a submission may hold, how each is masked and what staff call it.
_MASKS: dict[str, Callable[[str], str]] = {
    "contact_name": mask_name,
    "contact_phone": mask_phone,
    "contact_email": mask_email,
    "contact_address": mask_address,
    "sender_email": mask_email,
}
PERSONAL_FIELDS = tuple(_MASKS)
FIELD_LABELS = {
    "contact_name": _l("姓名"),
    "contact_phone": _l("电话"),
    "contact_email": _l("电子邮箱"),
    "contact_address": _l("地址"),
    "sender_email": _l("发件地址"),
}
REASON_MIN = 2
REASON_KEPT = 500  # characters of the reason the audit event keeps


def masked_personal_data(submission: Submission) -> dict[str, str]:
    from portal.triage.not_me import HIDDEN, is_disputed

    if is_disputed(submission):  # hidden, not even masked, until staff decide
        return {"contact_name": str(HIDDEN)}
    return {
        name: mask(value) for name, mask in _MASKS.items() if (value := getattr(submission, name))
    }


def reveal_personal_data(submission: Submission, reason: str, *, actor: str) -> dict[str, str]:
    """The clear personal data, after writing the audit event that says who looked and why."""
    from portal.triage.not_me import is_disputed

    if is_disputed(submission):
        raise ActionError("身份有争议的意见，在作出决定前不能查看个人信息。")
    cleaned = normalise_text(reason or "").strip()
    if len(cleaned) < REASON_MIN:
        raise ActionError("查看个人信息须填写理由。")
    values = {name: getattr(submission, name) for name in PERSONAL_FIELDS}
    shown = {k: v for k, v in values.items() if v}
    audit.record(
        "personal_data.view",
        object_type="submission",
        object_id=submission.id,
        details={"reason": cleaned[:REASON_KEPT], "fields": sorted(shown), "code": submission.code},
        actor=actor,
    )
    return shown
