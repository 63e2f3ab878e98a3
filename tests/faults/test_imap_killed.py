"""IMAP connection killed mid-fetch while two `flask mail fetch --loop` processes run, as the
systemd unit does on two hosts: the loop resumes by itself, every mail is recorded exactly once,
nothing is deleted from the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db
from portal.intake.models import Submission
from tests.fixtures.dovecot import Dovecot

pytestmark = [pytest.mark.faults, pytest.mark.slow]

MAILS = 240
KICK_AT = (40, 140)  # recorded submissions at which the connection is cut
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(dovecot: Dovecot) -> dict[str, Any]:
    return dovecot.app_config()


def _mails(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"市民{n} <fault{n}@example.cn>"
        msg["To"] = "feedback@portal.example"
        msg["Subject"] = f"断线测试第{n}号意见"
        msg["Date"] = "Tue, 06 Feb 2024 10:00:00 +0800"
        msg["Message-ID"] = f"<fault-{n}@example.cn>"
        msg.set_content(f"第{n}封来信：整改情况与实际不符，请核实。")
        out.append(msg.as_bytes())
    return out


def _count(app: Flask) -> tuple[int, int]:
    with app.app_context():
        total = db.session.scalar(select(func.count(Submission.id))) or 0
        distinct = db.session.scalar(select(func.count(func.distinct(Submission.message_id))))
        return int(total), int(distinct or 0)


def _env(app: Flask, dovecot: Dovecot) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        FLASK_APP="portal",
        PYTHONPATH=str(ROOT),
        PORTAL_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        PORTAL_INSTANCE_PATH=app.instance_path,
        PORTAL_SECRET_KEY=app.config["SECRET_KEY"],
    )
    for key, value in dovecot.app_config().items():
        env[f"PORTAL_{key}"] = "false" if value is False else str(value)
    return env


def test_connection_killed_mid_fetch_resumes_without_doubles(
    app: Flask, dovecot: Dovecot, published_notice: str, tmp_path: Path
) -> None:
    assert dovecot.append(_mails(MAILS)) == MAILS
    command = [sys.executable, "-m", "flask", "mail", "fetch", "--loop", "--interval", "1"]
    logs = [tmp_path / f"fetcher{i}.log" for i in range(2)]
    fetchers = []
    for log in logs:
        with log.open("wb") as out:
            fetchers.append(
                subprocess.Popen(command, env=_env(app, dovecot), cwd=ROOT, stdout=out, stderr=out)
            )
    kicked: list[int] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            total, _ = _count(app)
            if len(kicked) < len(KICK_AT) and total >= KICK_AT[len(kicked)]:
                dovecot.kick()
                kicked.append(total)
            if total >= MAILS and len(kicked) == len(KICK_AT):
                time.sleep(2.5)  # two more loop passes: a late double would show now
                break
            assert all(p.poll() is None for p in fetchers), "a fetcher died"
            time.sleep(0.05)
    finally:
        for process in fetchers:
            process.send_signal(signal.SIGTERM)
        for process in fetchers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
    output = "\n".join(log.read_text(errors="replace") for log in logs)
    total, distinct = _count(app)
    print(f"\nkicked at {kicked}; recorded {total}, distinct Message-IDs {distinct}")
    assert kicked and max(kicked) < MAILS, "the connection was never cut mid-fetch"
    assert "connection lost" in output or "stopped:" in output, output[-2000:]
    assert (total, distinct) == (MAILS, MAILS)
    assert dovecot.count() == MAILS  # fetch never deletes
