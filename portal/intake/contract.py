"""The JSON contract form of a submission: the object `flask submissions show --json` prints and
`flask submissions export --format json` writes one of per submission (DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.intake.models import Submission
from portal.workdays import as_utc


def iso_utc(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def as_dict(submission: Submission) -> dict[str, Any]:
    """The object `show --json` prints (a contract: DESIGN.md)."""
    return {
        "code": submission.code,
        "channel": submission.channel,
        "status": submission.status,
        "subject": submission.subject,
        "body": submission.body,
        "sender_email": submission.sender_email,
        "received_at": iso_utc(submission.received_at),
        "findings": submission.finding_numbers,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in submission.attachments
        ],
    }
