"""SMTP server down for the whole intake run: nothing is lost, and once it is back every
acknowledgement is delivered exactly once, even with three `flask outbox send` processes racing
(SKIP LOCKED on PostgreSQL, the conditional claim on SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.intake.service import Contact, Incoming, record_submission
from portal.outbox.models import OutboxMessage
from portal.outbox.send import send_due
from tests.fixtures.smtp import SmtpServer

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SUBMISSIONS = 120  # more than two claim batches (50), so the senders really compete
SENDERS = 3
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(mail_app_config: dict[str, Any]) -> dict[str, Any]:
    return mail_app_config


def _sender_env(app: Flask, smtp: SmtpServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        FLASK_APP="portal",
        PYTHONPATH=str(ROOT),
        PORTAL_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        PORTAL_INSTANCE_PATH=app.instance_path,
        PORTAL_SECRET_KEY=app.config["SECRET_KEY"],
        PORTAL_MAIL_SERVER=smtp.host,
        PORTAL_MAIL_PORT=str(smtp.port),
        PORTAL_MAIL_TIMEOUT="5",
        # The mails were written by the test app, whose links point at this machine: a sender
        # outside TESTING would hold them (printing.loopback_links_refused).
        PORTAL_REFUSE_LOOPBACK_LINKS="false",
    )
    return env


def _statuses() -> Counter[str]:
    db.session.rollback()  # see what the other processes committed
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return Counter({status: count for status, count in rows})


def test_outbox_delivers_exactly_once_after_smtp_returns(
    app: Flask, notice: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.stop()
    for n in range(SUBMISSIONS):
        record_submission(
            Incoming(
                channel="web",
                body=f"SMTP故障期间提交的第{n}条意见，请核实整改情况。",
                notice=notice,
                contact=Contact(name="王", email=f"citizen{n}@example.com"),
                consent=True,
            )
        )
    first = send_due(limit=SUBMISSIONS)
    assert (first.sent, first.failed) == (0, SUBMISSIONS), first.errors[:3]
    assert _statuses() == Counter({"failed": SUBMISSIONS})

    smtp_server.start()
    # The backoff (2 minutes after a first failure) has elapsed.
    db.session.execute(
        update(OutboxMessage).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    env = _sender_env(app, smtp_server)
    flask = [sys.executable, "-m", "flask", "outbox", "send"]
    senders = [
        subprocess.Popen(flask, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(SENDERS)
    ]
    outputs = [p.communicate(timeout=60) for p in senders]
    assert all(p.returncode == 0 for p in senders), outputs
    print("\nsenders:", [out.decode().strip() for out, _err in outputs])

    ids = Counter(m["Message-ID"] for m in smtp_server.messages())
    assert len(ids) == SUBMISSIONS, f"{len(ids)} distinct of {SUBMISSIONS}"
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    assert _statuses() == Counter({"sent": SUBMISSIONS})
    recipients = sorted(to for m in smtp_server.received for to in m.rcpt_tos)
    assert recipients == sorted(f"citizen{n}@example.com" for n in range(SUBMISSIONS))

    again = subprocess.run(flask, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and len(smtp_server.received) == SUBMISSIONS
