"""The acknowledgement a submitter with an address receives: the receipt code (never the
secret), when to expect an answer and where to track it. It goes through the outbox, in the
transaction that records the submission."""

from __future__ import annotations

from flask import current_app, render_template

from portal.intake.models import Submission
from portal.outbox import enqueue
from portal.workdays import local_date


def enqueue_acknowledgement(submission: Submission, *, in_reply_to: str | None = None) -> None:
    """The zh-CN acknowledgement, in the outbox within the caller's transaction."""
    config = current_app.config
    context = {
        "submission": submission,
        "code": submission.code,
        "office_name": config.get("OFFICE_NAME", ""),
        "ack_within": config["ACK_WITHIN_WORKDAYS"],
        "reply_within": config["REPLY_WITHIN_WORKDAYS"],
        "reply_due_on": submission.reply_due_on,
        "received_on": local_date(submission.received_at),
        "track_url": config["PUBLIC_BASE_URL"].rstrip("/") + "/track",
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
