"""The JSON contract form of a submission: the object `flask submissions show --json` prints and
`flask submissions export --format json` writes one of per submission (DESIGN.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from portal.intake.models import Submission
from portal.workdays import as_utc


def iso_utc(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


# Fields a layer above intake knows (triage registers "satisfaction": the submitter's latest
# rating, satisfied | basically_satisfied | unsatisfied, or null), added after the base ones;
# one registered under a base name replaces its value in place ("sender_email": hidden while
# someone disputes having sent it).
ContractField = Callable[[Submission], Any]
_fields: dict[str, ContractField] = {}


def register_field(name: str, compute: ContractField) -> None:
    _fields[name] = compute


def as_dict(submission: Submission) -> dict[str, Any]:
    """The object `show --json` prints (a contract: DESIGN.md)."""
    return _base(submission) | {name: compute(submission) for name, compute in _fields.items()}


def _base(submission: Submission) -> dict[str, Any]:
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
