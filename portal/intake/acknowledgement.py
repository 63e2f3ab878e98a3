"""The acknowledgement a submitter with an address receives: the receipt code (never the
secret), which office handles it, when to expect an answer and where to track it. It goes
through the outbox, in the transaction that records the submission."""

from __future__ import annotations

from flask import current_app, render_template

from portal.intake.models import Submission
from portal.offices.service import ack_workdays, letter_identity, reply_workdays
from portal.outbox import enqueue
from portal.workdays import local_date


def enqueue_acknowledgement(submission: Submission, *, in_reply_to: str | None = None) -> None:
    """The zh-CN acknowledgement, in the outbox within the caller's transaction.

    It names the office that must answer; an unrouted submission's names the default office
    as sender and says the opinion is being passed to the office concerned."""
    config = current_app.config
    office = submission.office
    context = {
        "submission": submission,
        "code": submission.code,
        "office_name": letter_identity(office)["office_name"],
        "routed": office is not None,
        "ack_within": ack_workdays(office),
        "reply_within": reply_workdays(office),
        "reply_due_on": submission.reply_due_on,
        "received_on": local_date(submission.received_at),
        "track_url": config["PUBLIC_BASE_URL"].rstrip("/") + "/track",
        "refused_files": refused_files(submission),
    }
    enqueue(
        to=submission.email or "",
        subject=f"[#{submission.code}] 您的意见已收到",
        text=render_template("outbox/ack.txt", **context),
        html=render_template("outbox/ack.html", **context),
        submission_id=submission.id,
        submission_code=submission.code,
        kind="ack",
        in_reply_to=in_reply_to,
    )


def refused_files(submission: Submission) -> list[str]:
    """The sentences naming each mailed file that was not accepted, and why (zh-CN)."""
    details = submission.channel_details or {}
    refused = details.get("refused_attachments") if isinstance(details, dict) else None
    return [str(item.get("reason") or item.get("filename")) for item in refused or []]
