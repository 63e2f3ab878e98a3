"""`flask mail fetch` against a real Dovecot: nothing missed, nothing doubled, one fetcher per
mailbox; the shared mailbox and every office's own read in one pass."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from collections import Counter
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from portal.extensions import db
from portal.intake import office_routing
from portal.intake.mail.imap import FetcherBusy, acquire_lock, fetch_once, release_lock
from portal.intake.mail.mailboxes import Mailbox
from portal.intake.mail.models import FetcherLock, MailboxState
from portal.intake.models import Submission
from tests.fixtures.dovecot import Dovecot
from tests.fixtures.intake import TwoOffices


@pytest.fixture
def app_config(dovecot: Dovecot) -> dict[str, Any]:
    return dovecot.app_config()


def messages(count: int, start: int = 0) -> list[bytes]:
    out = []
    for n in range(start, start + count):
        msg = EmailMessage()
        msg["From"] = f"市民{n} <citizen{n}@example.cn>"
        msg["To"] = "feedback@portal.example"
        msg["Subject"] = f"第{n}号意见"
        msg["Date"] = "Tue, 06 Feb 2024 10:00:00 +0800"
        msg["Message-ID"] = f"<imap-{n}@example.cn>"
        msg.set_content(f"这是第{n}封关于整改的来信，请核实镕城路的情况。")
        out.append(msg.as_bytes())
    return out


def submissions(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(Submission.id))) or 0)


def fetch(app: Flask, **kw: Any) -> Any:
    with app.app_context():
        return fetch_once(app.config, **kw)


def test_drop_midway_and_uidvalidity_change_give_exactly_200(
    app: Flask, dovecot: Dovecot, published_notice: str
) -> None:
    assert dovecot.append(messages(200)) == 200
    kicked = []

    def drop_halfway(done: int, total: int, uid: int) -> None:
        if done == 75 and not kicked:
            kicked.append(uid)
            dovecot.kick()

    first = fetch(app, progress=drop_halfway)
    assert kicked and first.error and "connection" in first.error
    assert 75 <= submissions(app) < 200  # what was read is kept; the rest waits on the server

    second = fetch(app)
    assert second.ok, second.error
    assert submissions(app) == 200
    assert second.outcomes["recorded"] == 200 - first.outcomes["recorded"]
    assert dovecot.count() == 200  # never deleted

    nothing_new = fetch(app)
    assert nothing_new.ok and nothing_new.seen == 0

    dovecot.set_uidvalidity(dovecot.uidvalidity() + 1000)
    rescan = fetch(app)
    assert rescan.ok and rescan.rescanned
    assert rescan.outcomes["duplicate"] == 200
    assert submissions(app) == 200

    dovecot.append(messages(3, start=200))
    assert fetch(app).outcomes["recorded"] == 3
    assert submissions(app) == 203
    with app.app_context():
        state = db.session.scalar(select(MailboxState))
        assert state is not None and state.uidvalidity == dovecot.uidvalidity()


def test_move_after_commit_and_failed_move_never_doubles(
    app: Flask, dovecot: Dovecot, published_notice: str
) -> None:
    dovecot.append(messages(5))
    with dovecot.client() as client:
        client.create_folder("Processed")
    app.config["MAIL_IMAP_MOVE_TO"] = "Processed"
    report = fetch(app)
    assert report.ok and report.outcomes["recorded"] == 5
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 5

    # The move target vanished: records stay single, messages stay put, nothing lost.
    dovecot.append(messages(5, start=5))
    app.config["MAIL_IMAP_MOVE_TO"] = "NoSuchFolder"
    failed = fetch(app)
    assert failed.outcomes["recorded"] == 5 and failed.outcomes["flag-failed"] == 5
    assert dovecot.count("INBOX") == 5
    dovecot.set_uidvalidity(dovecot.uidvalidity() + 7)
    app.config["MAIL_IMAP_MOVE_TO"] = None
    assert fetch(app).outcomes["duplicate"] == 5
    assert submissions(app) == 10


def test_a_second_fetcher_refuses_while_one_runs(
    app: Flask, dovecot: Dovecot, runner: FlaskCliRunner, published_notice: str
) -> None:
    dovecot.append(messages(60))
    seen: list[str] = []

    def second_fetcher() -> None:
        with app.app_context():
            try:
                fetch_once(app.config)
                seen.append("ran")
            except FetcherBusy as exc:
                seen.append(str(exc))

    def meanwhile(done: int, total: int, uid: int) -> None:
        if done == 10:
            thread = threading.Thread(target=second_fetcher)
            thread.start()
            thread.join()

    report = fetch(app, progress=meanwhile)
    assert seen == ["another fetcher is running"]
    assert report.ok and submissions(app) == 60

    with app.app_context():
        mailbox = Mailbox.shared(app.config)
        assert mailbox is not None
        assert acquire_lock("a-fetcher-on-another-host", mailbox.lock_name)
    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code == 3
    assert "another fetcher is running" in result.output


def test_fetch_command_reports_and_exits_zero(
    app: Flask, dovecot: Dovecot, runner: FlaskCliRunner, published_notice: str
) -> None:
    dovecot.append(messages(4))
    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code == 0, result.output
    assert "recorded 4" in result.output
    assert submissions(app) == 4


def test_loop_stops_gracefully_on_sigterm(
    app: Flask, dovecot: Dovecot, published_notice: str
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    dovecot.append(messages(3))
    env = dict(os.environ)
    env.update(
        {
            "FLASK_APP": "portal",
            "PORTAL_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "PORTAL_INSTANCE_PATH": app.instance_path,
            "PORTAL_SECRET_KEY": app.config["SECRET_KEY"],
            **{f"PORTAL_{k}": str(v).lower() if isinstance(v, bool) else str(v)
               for k, v in dovecot.app_config().items()},
        }
    )  # fmt: skip
    flask = str(Path(sys.executable).parent / "flask")
    proc = subprocess.Popen(
        [flask, "mail", "fetch", "--loop", "--interval", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while submissions(app) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert submissions(app) == 3
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "recorded 3" in out and "stopped" in err


# --- a mailbox per office ----------------------------------------------------------------------

OFFICE_PASSWORDS = {"main": "pw-office-a", "b": "pw-office-b"}
RECORDED_LINE = re.compile(r"^recorded [0-9A-Z]{5}-[0-9A-Z]{5}$", re.M)


def office_mail(count: int, tag: str, to: str) -> list[bytes]:
    out = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f"市民 <{tag}{n}@example.cn>"
        msg["To"] = to
        msg["Subject"] = "对整改工作的意见"
        msg["Date"] = "Tue, 06 Feb 2024 10:00:00 +0800"
        msg["Message-ID"] = f"<{tag}-{n}@example.cn>"
        msg.set_content(f"第{n}封来信：整改情况与实际不符，请核实。")
        out.append(msg.as_bytes())
    return out


def give_mailbox(app: Flask, dovecot: Dovecot, slug: str, user: str, password: str) -> None:
    from portal.offices.service import create_office, office_by_slug

    with app.app_context():
        office = office_by_slug(slug) or create_office(slug, name=f"{slug}单位")
        office.imap_host, office.imap_port = dovecot.host, dovecot.port
        office.imap_user, office.imap_password = user, password
        office.imap_ssl, office.imap_starttls = False, False
        db.session.commit()


def offices_of_submissions(app: Flask) -> Counter[int | None]:
    with app.app_context():
        return Counter(db.session.scalars(select(Submission.office_id)))


def test_every_office_mailbox_and_the_shared_one_each_under_its_own_lease(
    app: Flask,
    dovecot: Dovecot,
    runner: FlaskCliRunner,
    two_offices: TwoOffices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(office_routing, "_guessers", [])
    for slug, password in OFFICE_PASSWORDS.items():
        dovecot.add_user(f"office-{slug}", password)
        give_mailbox(app, dovecot, slug, f"office-{slug}", password)
    give_mailbox(app, dovecot, "c", "office-c", "wrong password")  # a broken mailbox
    dovecot.append(office_mail(2, "to-b", two_offices.b_address))  # shared: routed to B
    dovecot.append(office_mail(1, "unsure", "xunchaban@feedback.example"))  # nobody's
    dovecot.append(office_mail(3, "a", "anyone@feedback.example"), user="office-main",
                   password=OFFICE_PASSWORDS["main"])  # fmt: skip
    dovecot.append(office_mail(2, "b", two_offices.a_address), user="office-b",
                   password=OFFICE_PASSWORDS["b"])  # fmt: skip

    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code == 1, result.output  # office c's mailbox failed...
    assert len(RECORDED_LINE.findall(result.output)) == 8  # ...and every other message came in
    assert "fetched 3 from INBOX" in result.output
    assert "fetched 3 from main/INBOX" in result.output
    assert "fetched 2 from b/INBOX" in result.output
    assert "c/INBOX" in result.output and "cannot connect" in result.output
    # The shared mailbox's mail was routed; each office's own mailbox's mail is that office's.
    assert offices_of_submissions(app) == {two_offices.a: 3, two_offices.b: 4, None: 1}
    with app.app_context():
        states = {s.username: s.last_uid for s in db.session.scalars(select(MailboxState))}
        assert states == {"portal": 3, "office-main": 3, "office-b": 2}
        locks = list(db.session.scalars(select(FetcherLock)))
        assert len({lock.name for lock in locks}) == 4 and all(
            lock.holder is None for lock in locks
        )
        from portal.offices.service import office_by_slug

        office_by_slug("c").active = False  # type: ignore[union-attr]
        db.session.commit()

    # Office A's mailbox is being read on another host: the others are still read.
    with app.app_context():
        from portal.intake.mail.mailboxes import configured_mailboxes

        lock_of = {m.label: m.lock_name for m in configured_mailboxes(app.config)}
        assert acquire_lock("another-host", lock_of["main/INBOX"])
    dovecot.append(office_mail(1, "a2", "x@example.cn"), user="office-main",
                   password=OFFICE_PASSWORDS["main"])  # fmt: skip
    dovecot.append(office_mail(1, "b2", "x@example.cn"), user="office-b",
                   password=OFFICE_PASSWORDS["b"])  # fmt: skip
    dovecot.append(office_mail(1, "shared2", two_offices.b_address))
    busy = runner.invoke(args=["mail", "fetch", "--once"])
    assert busy.exit_code == 3, busy.output
    assert "main/INBOX: another fetcher is running" in busy.output
    assert len(RECORDED_LINE.findall(busy.output)) == 2
    assert offices_of_submissions(app) == {two_offices.a: 3, two_offices.b: 6, None: 1}

    only_a = runner.invoke(args=["mail", "fetch", "--once", "--office", "main"])
    assert only_a.exit_code == 3 and "another fetcher is running" in only_a.output
    with app.app_context():
        release_lock("another-host", lock_of["main/INBOX"])
    only_a = runner.invoke(args=["mail", "fetch", "--once", "--office", "main"])
    assert only_a.exit_code == 0, only_a.output
    assert len(RECORDED_LINE.findall(only_a.output)) == 1 and "b/INBOX" not in only_a.output
    assert offices_of_submissions(app) == {two_offices.a: 4, two_offices.b: 6, None: 1}

    for slug in ("nope", "c"):  # unknown; no longer active
        refused = runner.invoke(args=["mail", "fetch", "--once", "--office", slug])
        assert refused.exit_code == 2 and slug in refused.output, refused.output


# --- TLS: IMAPS and STARTTLS against Dovecot with a throwaway certificate ---------------------


@pytest.mark.parametrize("mode", ["imaps", "starttls"])
def test_fetch_over_tls_verifies_the_server_certificate(
    app: Flask, dovecot_tls: Dovecot, mode: str
) -> None:
    dovecot_tls.append(messages(3))
    cert = str(dovecot_tls.tls[0]) if dovecot_tls.tls else ""
    tls = (
        {"MAIL_IMAP_PORT": dovecot_tls.ssl_port, "MAIL_IMAP_SSL": True}
        if mode == "imaps"
        else {"MAIL_IMAP_STARTTLS": True}
    )
    # Without trusting the throwaway CA the connection is refused, never silently unverified.
    app.config.update(dovecot_tls.app_config(**tls))
    refused = fetch(app)
    assert not refused.ok and refused.seen == 0
    assert submissions(app) == 0
    app.config["MAIL_IMAP_CA_FILE"] = cert
    report = fetch(app)
    assert report.ok, report.summary()
    assert report.seen == 3 and submissions(app) == 3


# --- the progress bar: on a terminal only ------------------------------------------------------


def _fetch_in_a_process(app: Flask, dovecot: Dovecot, terminal: bool) -> str:
    """`flask mail fetch --once` in its own process, its output on a pseudo-terminal or a pipe
    (what cron, systemd and a log file give it)."""
    env = {
        **os.environ,
        "PORTAL_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_INSTANCE_PATH": app.instance_path,
        "PORTAL_SECRET_KEY": "test-secret-key",
        "PORTAL_MAIL_IMAP_HOST": dovecot.host,
        "PORTAL_MAIL_IMAP_PORT": str(dovecot.port),
        "PORTAL_MAIL_IMAP_USER": dovecot.user,
        "PORTAL_MAIL_IMAP_PASSWORD": dovecot.password,
        "PORTAL_MAIL_IMAP_SSL": "false",
        "PORTAL_MAIL_IMAP_STARTTLS": "false",
    }
    command = [sys.executable, "-m", "flask", "--app", "portal", "mail", "fetch", "--once"]
    if not terminal:
        done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return (done.stdout + done.stderr).decode("utf-8", "replace")
    leader, follower = pty.openpty()
    # A terminal of 24 rows, 80 columns (a fresh pty has 0 columns: nothing would fit).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_and_never_in_logs(app: Flask, dovecot: Dovecot) -> None:
    dovecot.append(messages(3))
    shown = _fetch_in_a_process(app, dovecot, terminal=True)
    assert "mail fetch" in shown and "3/3" in shown, shown
    dovecot.append(messages(2, start=3))
    logged = _fetch_in_a_process(app, dovecot, terminal=False)
    assert "fetched 2 from INBOX" in logged
    assert "mail fetch" not in logged and "\r" not in logged and "/2 [" not in logged, logged
    lines = [line for line in logged.splitlines() if line.startswith("recorded ")]
    assert len(lines) == 2
