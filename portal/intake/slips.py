"""What a printed paper carries so that a letter writer, caller or visitor can track too.

The visitor's slip, the acknowledgement for a letter and the reply letter all give the receipt
code, the tracking address and a QR code to it, the office that handles the opinion and its reply
deadline (a Chinese date: these papers are official documents). The secret is printed only where
it is still known, the moment a submission is registered: afterwards only its hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from flask import current_app

from portal.intake import offline
from portal.intake.models import Submission
from portal.offices.service import reply_workdays
from portal.printing import is_loopback_url, public_url, qr_data_uri
from portal.workdays import WorkCalendar, local_date

TRACK_PATH = "/track"


@dataclass(frozen=True)
class TrackingFacts:
    code: str
    track_url: str  # printed for people to type: short, without the code
    qr: str  # an SVG data: URI; the code rides along so a phone opens the form filled in
    office_name: str
    received_text: str  # 2024年2月2日, in Asia/Shanghai
    reply_due: date | None
    reply_due_text: str
    loopback: bool  # the address is 127.0.0.1/localhost: warn whoever prints it


def tracking_url() -> str:
    return public_url(current_app.config, TRACK_PATH)


def tracking_facts(submission: Submission) -> TrackingFacts:
    url = tracking_url()
    due = submission.reply_due_on
    if due is None:  # registered before deadlines were stored: compute it as the queue would
        calendar = WorkCalendar.from_config(current_app.config)
        due = calendar.due_date(submission.received_at, reply_workdays(submission.office))
    office = submission.office
    return TrackingFacts(
        code=submission.code,
        track_url=url,
        qr=qr_data_uri(f"{url}?{urlencode({'code': submission.code})}"),
        office_name=office.name if office is not None else current_app.config["OFFICE_NAME"],
        received_text=offline.chinese_date(local_date(submission.received_at)),
        reply_due=due,
        reply_due_text=offline.chinese_date(due) if due else "",
        loopback=is_loopback_url(url),
    )
