"""Mailing a citizen's receipt once more: a NEW secret, to the address they gave.

Only a keyed hash of the secret is stored (receipts.hash_secret), so the secret shown on the
receipt page cannot be sent again: a fresh one is drawn, its hash replaces the old one (which
stops working), and the outbox mails it in the same transaction, with an audit event. Who may
ask: only the browser that submitted the opinion, within an hour, once (the right is kept
server-side in session_store); the view is rate-limited besides. The address is never shown
or changed here: the mail goes where the citizen asked replies to go.
"""

from __future__ import annotations

from flask import render_template

from portal import audit
from portal.intake import receipts
from portal.intake.models import Submission
from portal.intake.service import _secret_key  # the one key secrets are hashed with
from portal.intake.slips import tracking_url
from portal.outbox import enqueue

KIND = "secret"


def reissue_secret_by_mail(submission: Submission) -> bool:
    """Replace the secret and mail the new one (caller commits); False when there is no
    address to mail it to (nothing changes then)."""
    address = submission.email
    if not address:
        return False
    secret = receipts.generate_secret()
    submission.secret_hash = receipts.hash_secret(secret, code=submission.code, key=_secret_key())
    context = {
        "code": submission.code,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "track_url": tracking_url(),
        "office_name": submission.office.name if submission.office else "",
    }
    enqueue(
        to=address,
        subject=f"[#{submission.code}] 您的查询密码",
        text=render_template("intake/secret_mail.txt", **context),
        submission_id=submission.id,
        submission_code=submission.code,
        kind=KIND,
    )
    audit.record(
        "receipt.secret_mailed",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "by": "submitter", "fields": ["contact_email"]},
        actor="citizen",
    )
    return True
