"""Signed links to one case in mail to its submitter (the 好差评 link of a reply, the "not me"
link of an acknowledgement): the token names the submission and its code, signed with
SECRET_KEY and a salt of its own kind, and expires after CASE_LINK_DAYS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from portal.extensions import db

if TYPE_CHECKING:
    from portal.intake.models import Submission


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(submission: Submission, salt: str) -> str:
    return str(_serializer(salt).dumps({"s": submission.id, "c": submission.code}))


def submission_for(token: str, salt: str) -> Submission | None:
    """The submission a link names, or None when forged, of another kind or expired."""
    from portal.intake.models import Submission

    max_age = int(current_app.config.get("CASE_LINK_DAYS", 90)) * 86400
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    submission = db.session.get(Submission, data.get("s"))
    if submission is None or submission.code != data.get("c"):
        return None
    return submission
