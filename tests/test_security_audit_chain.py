"""Issue #19 item 8: the audit chain cannot be rewritten unnoticed.

- Keyed (HMAC-SHA256 with a key outside the database): editing events and re-chaining them with
  plain SHA-256, as anyone with write access to the database could before, fails verify.
- A chain written before the key existed stays verifiable: the switch point is recorded (and
  keyed itself, so moving it is noticed).
- Anchors: `flask audit anchor` prints, records and mails the head hash; verify checks the chain
  against the recorded anchors and against anchors kept outside (--anchor), which catch even a
  re-chaining by someone who holds the key.
- On PostgreSQL the app's role cannot UPDATE or DELETE events (triggers; a plain role here).
- Security events also go to syslog (a real datagram socket standing in for /dev/log).
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from flask import Flask
from sqlalchemy import Table, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from portal import audit, create_app
from portal.audit import security_log
from portal.audit.keys import audit_key
from portal.extensions import db as _db
from portal.outbox.models import OutboxMessage
from tests.test_audit import allow_tampering, run_verify, write_events

EVENTS = cast(Table, audit.Event.__table__)
HEAD = cast(Table, audit.AuditHead.__table__)


def rechain(app: Flask, edit_seq: int, key: bytes | None, actor: str = "someone else") -> None:
    """Edit one event, then recompute every hash from there on and move the head: a forger
    with write access to the database (and, with ``key``, the audit key too)."""
    with app.app_context():
        allow_tampering()
        _db.session.execute(update(EVENTS).where(EVENTS.c.seq == edit_seq).values(actor=actor))
        rows = _db.session.execute(select(EVENTS).order_by(EVENTS.c.seq)).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            digest = row["hash"]
            if row["seq"] >= edit_seq:
                fields = {
                    k: row[k] for k in ("seq", "at", "actor", "action", "object_type", "object_id")
                }
                digest = audit.event_hash(
                    **fields, details=row["details"], ip=row["ip"], prev_hash=prev, key=key
                )
                _db.session.execute(
                    update(EVENTS)
                    .where(EVENTS.c.id == row["id"])
                    .values(prev_hash=prev, hash=digest)
                )
            prev = digest
        _db.session.execute(update(audit.AuditHead).values(last_hash=prev))
        _db.session.commit()


def test_editing_and_rechaining_without_the_key_fails_verify(app: Flask) -> None:
    write_events(app, 5)
    assert run_verify(app).exit_code == 0
    rechain(app, 3, key=None)  # what passed `flask audit verify` before the chain was keyed
    result = run_verify(app)
    assert result.exit_code == 1
    assert "event 3" in result.output  # a plain hash is not the keyed one


def test_the_key_lives_outside_the_database(app: Flask, tmp_path: Path) -> None:
    key_file = Path(app.instance_path) / "audit.key"
    with app.app_context():
        key = audit_key()
    assert key_file.read_text().strip().encode() == key and len(key) == 64
    assert key_file.stat().st_mode & 0o777 == 0o600
    other = create_app({**app.config, "AUDIT_KEY": "configured-elsewhere"})
    with other.app_context():
        assert audit_key() == b"configured-elsewhere"


def _write_plain_chain(app: Flask, count: int) -> None:
    """Events as the portal wrote them before the key existed: plain SHA-256, no switch."""
    with app.app_context():
        prev = audit.GENESIS
        for seq in range(1, count + 1):
            fields: dict[str, Any] = dict(
                seq=seq,
                at=datetime(2024, 2, seq, tzinfo=UTC),
                actor="cli",
                action="old.event",
                object_type=None,
                object_id=None,
                details={"n": seq},
                ip=None,
                prev_hash=prev,
            )
            prev = audit.event_hash(**fields)
            _db.session.execute(EVENTS.insert().values(**fields, hash=prev))
        _db.session.execute(HEAD.insert().values(id=1, seq=count, last_hash=prev))
        _db.session.commit()


def test_a_chain_from_before_the_key_stays_verifiable_and_records_the_switch(app: Flask) -> None:
    _write_plain_chain(app, 3)
    assert run_verify(app).exit_code == 0
    write_events(app, 2)
    result = run_verify(app)
    assert result.exit_code == 0, result.output
    assert "5 events" in result.output
    with app.app_context():
        head = _db.session.get(audit.AuditHead, 1)
        assert head is not None and head.keyed_from == 4
        keyed = _db.session.scalars(select(audit.Event.hash).where(audit.Event.seq == 4)).one()
        plain = _db.session.scalars(select(audit.Event.hash).where(audit.Event.seq == 3)).one()
        assert keyed != plain
    # Moving the switch point to make every event "plain" is noticed.
    with app.app_context():
        allow_tampering()
        _db.session.execute(update(audit.AuditHead).values(keyed_from=99))
        _db.session.commit()
    moved = run_verify(app)
    assert moved.exit_code == 1 and "keyed hashing was altered" in moved.output


@pytest.mark.config(AUDIT_ANCHOR_EMAIL="archive@office.test")
def test_anchor_prints_records_and_mails_the_head_hash(app: Flask) -> None:
    write_events(app, 4)
    result = app.test_cli_runner().invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().removeprefix("anchor ")
    seq, digest = line.split(":")
    with app.app_context():
        event = _db.session.scalars(select(audit.Event).order_by(audit.Event.seq.desc())).first()
        assert event is not None and event.action == "audit.anchor"
        assert (int(seq), digest) == (event.seq, event.hash) == (5, event.hash)
        stored = _db.session.scalars(select(audit.AuditAnchor)).one()
        assert (stored.seq, stored.hash, stored.mailed_to) == (5, digest, "archive@office.test")
        mail = _db.session.scalars(select(OutboxMessage)).one()
        assert mail.to == "archive@office.test" and line in mail.text
    ok = run_verify(app, line)
    assert ok.exit_code == 0 and "2 anchors match" in ok.output


def test_anchors_catch_a_rechaining_even_with_the_key(app: Flask) -> None:
    write_events(app, 3)
    line = app.test_cli_runner().invoke(args=["audit", "anchor"]).stdout.split()[1]
    write_events(app, 2)
    with app.app_context():
        key = audit_key()
    rechain(app, 2, key=key)  # the key was stolen too: the chain itself is consistent again
    recorded = run_verify(app)
    assert recorded.exit_code == 1
    assert "event 4" in recorded.output and "anchor" in recorded.output
    # The forger also removes the recorded anchors: the copy kept outside still catches it.
    with app.app_context():
        allow_tampering()
        _db.session.execute(text("DELETE FROM audit_anchors"))
        _db.session.commit()
    assert run_verify(app).exit_code == 0  # nothing inside the database contradicts it now
    outside = run_verify(app, line)
    assert outside.exit_code == 1 and "event 4" in outside.output


def test_a_forged_anchor_row_is_refused(app: Flask) -> None:
    write_events(app, 2)
    app.test_cli_runner().invoke(args=["audit", "anchor"])
    with app.app_context():
        allow_tampering()
        _db.session.execute(update(audit.AuditAnchor).values(hash="f" * 64))
        _db.session.commit()
    result = run_verify(app)
    assert result.exit_code == 1 and "anchor was altered" in result.output


def test_anchor_refuses_a_broken_chain_and_verify_a_malformed_anchor(app: Flask) -> None:
    write_events(app, 3)
    with app.app_context():
        allow_tampering()
        _db.session.execute(update(audit.Event).where(audit.Event.seq == 2).values(actor="x"))
        _db.session.commit()
    refused = app.test_cli_runner().invoke(args=["audit", "anchor"])
    assert refused.exit_code == 1 and "未记录锚点" in refused.output
    malformed = run_verify(app, "12-abc")
    assert malformed.exit_code == 2 and "锚点格式" in malformed.output


# --- PostgreSQL: the app's role cannot rewrite the log -----------------------------------------


@pytest.fixture
def plain_role_app(app: Flask, database_url: str) -> Iterator[Flask]:
    # Only on PostgreSQL (tests using it are postgres_only): SQLite has no roles or triggers,
    # the key and anchors are its guard.
    name = f"portal_audit_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS")
        conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
        conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
    url = make_url(database_url).set(username=name).render_as_string(False)
    application = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": url})
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
        )
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


REWRITES = [
    "UPDATE events SET actor = 'someone else' WHERE seq = 2",
    "UPDATE events SET details = '{}'",
    "DELETE FROM events WHERE seq = 3",
    "DELETE FROM audit_anchors",
    "UPDATE audit_anchors SET hash = repeat('f', 64)",
    "UPDATE audit_head SET seq = 1",
    "UPDATE audit_head SET keyed_from = 99",
    "DELETE FROM audit_head",
]


@pytest.mark.postgres_only
def test_the_apps_role_cannot_update_or_delete_events(plain_role_app: Flask) -> None:
    write_events(plain_role_app, 3)  # appending still works for the plain role
    assert plain_role_app.test_cli_runner().invoke(args=["audit", "anchor"]).exit_code == 0
    with plain_role_app.app_context():
        for statement in REWRITES:
            with pytest.raises(DBAPIError, match="audit"), _db.session.begin_nested():
                _db.session.execute(text(statement))
        _db.session.rollback()
        assert audit.verify().ok
        assert audit.verify().count == 4


# --- a copy in syslog --------------------------------------------------------------------------


@pytest.fixture
def syslog_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    yield server, path
    server.close()
    for handler in list(security_log.logger.handlers):
        if isinstance(handler, logging.handlers.SysLogHandler):
            security_log.logger.removeHandler(handler)
            handler.close()


def test_security_events_reach_syslog_and_others_do_not(
    app: Flask, syslog_socket: tuple[socket.socket, str]
) -> None:
    server, path = syslog_socket
    assert security_log.install_syslog(app, socket=path) is not None
    with app.app_context():
        audit.record("notice.publish", object_type="notice", object_id=1, actor="cli")
        audit.record(
            "login.failure", details={"email_hash": "x", "planted": "秘密"}, actor="public"
        )
        _db.session.commit()
    line = server.recv(4096).decode("utf-8")
    assert "action=login.failure" in line and "seq=2" in line
    assert line.startswith("<84>")  # facility authpriv (10) * 8 + warning (4)
    assert "秘密" not in line  # details stay in the database
    server.settimeout(0.2)
    with pytest.raises(TimeoutError):
        server.recv(4096)  # notice.publish was not copied


def test_a_missing_syslog_socket_installs_nothing(app: Flask, tmp_path: Path) -> None:
    assert security_log.install_syslog(app, socket=str(tmp_path / "none")) is None


@pytest.mark.parametrize(
    ("action", "copied"),
    [
        ("login.failure", True),
        ("login.lockout", True),
        ("access.denied", True),
        ("user.2fa_enrol", True),
        ("ledger.export", True),
        ("report.download", True),
        ("submission.record", False),
        ("notice.publish", False),
    ],
)
def test_which_actions_are_security_events(action: str, copied: bool) -> None:
    assert security_log.is_security_action(action) is copied


def test_security_events_go_to_the_portal_security_logger(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="portal.security"), app.app_context():
        audit.record("login.lockout", object_type="user", object_id=7, actor="public")
        audit.record("submission.record", actor="public")
        _db.session.commit()
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.security"]
    assert len(lines) == 1 and "action=login.lockout" in lines[0] and "user:7" in lines[0]


def test_the_audit_page_names_a_rechained_event_in_chinese(app: Flask, staff_login: Any) -> None:
    admin = staff_login("admin")
    write_events(app, 3)
    rechain(app, 2, key=None)
    page = admin.get("/staff/audit/verify").get_data(as_text=True)
    assert "校验失败" in page and "记录被改动" in page
    assert "content does not match" not in page
