"""What a reader of a published notice is told about its changes: the revisions made since it
was published (修订于 <date>, the note, the sentences removed and added) and each finding's
status with the date it holds from. No Flask: the public page renders these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from portal.notices.diff import DiffLine, sentence_diff
from portal.notices.models import Finding, Notice
from portal.workdays import as_utc, to_local


@dataclass
class PublicRevision:
    number: int
    revised_on: date  # in Asia/Shanghai
    note: str
    changes: list[DiffLine]


def public_revisions(notice: Notice) -> list[PublicRevision]:
    """The revisions readers have not seen at publication, newest first (drafts are private)."""
    if notice.published_at is None:
        return []
    published = as_utc(notice.published_at)
    revisions = notice.revisions
    out = [
        PublicRevision(
            number=revision.number,
            revised_on=to_local(revision.created_at).date(),
            note=revision.note or "",
            changes=sentence_diff(previous.source_text, revision.source_text),
        )
        for previous, revision in pairwise(revisions)
        if as_utc(revision.created_at) > published
    ]
    return out[::-1]


def finding_status(finding: Finding, signed_on: date | None) -> tuple[str | None, date | None]:
    """The finding's public status and the date it holds from: the last dated step, else the
    status the notice's own text gives (as of the notice's date); (None, None) when neither."""
    history = getattr(finding, "status_history", None) or []
    if history:
        return history[-1].status, history[-1].effective_on
    if finding.status:
        return finding.status, signed_on
    return None, None
