"""The hash-chained audit log: verify passes on a clean log, fails on any tampering."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from portal import audit
from portal.extensions import db as _db
from portal.labels import action_label

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def write_events(app: Flask, count: int, prefix: str = "test") -> None:
    with app.app_context():
        for i in range(count):
            audit.record(
                f"{prefix}.event",
                object_type="thing",
                object_id=i,
                details={"i": i, "名字": "张三"},
                actor="cli",
            )
        _db.session.commit()


def run_verify(app: Flask, *anchors: str) -> Any:
    extra = [arg for anchor in anchors for arg in ("--anchor", anchor)]
    return app.test_cli_runner().invoke(args=["audit", "verify", *extra])


def allow_tampering() -> None:
    """What only a database superuser can do on PostgreSQL: switch the append-only triggers off
    for this transaction (the tests connect as the superuser ``postgres``)."""
    if _db.session.get_bind().dialect.name == "postgresql":
        _db.session.execute(text("SET LOCAL session_replication_role = replica"))


@settings(max_examples=30, deadline=None)
@given(
    details=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    actor=st.text(min_size=1, max_size=30),
    other=st.text(min_size=1, max_size=30),
)
def test_hash_covers_every_field(details: dict, actor: str, other: str) -> None:
    fields: dict[str, Any] = dict(
        seq=1,
        at=datetime(2024, 2, 2, tzinfo=UTC),
        actor=actor,
        action="x",
        object_type="t",
        object_id="1",
        details=details,
        ip=None,
        prev_hash=audit.GENESIS,
    )
    digest = audit.event_hash(**fields)
    assert digest == audit.event_hash(**fields)
    if other != actor:
        assert audit.event_hash(**{**fields, "actor": other}) != digest
    assert audit.event_hash(**{**fields, "prev_hash": "1" * 64}) != digest
    assert audit.event_hash(**{**fields, "details": {**details, "extra": 1}}) != digest


def test_verify_passes_on_a_clean_log_and_counts_events(app: Flask) -> None:
    empty = run_verify(app)
    assert empty.exit_code == 0 and "0 events" in empty.output
    write_events(app, 7)
    result = run_verify(app)
    assert result.exit_code == 0, result.output
    assert "7 events" in result.output


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        ("UPDATE events SET details = '{\"i\": 99}' WHERE seq = 3", 3),
        ("UPDATE events SET actor = 'someone else' WHERE seq = 5", 5),
        ("DELETE FROM events WHERE seq = 4", 4),
        ("DELETE FROM events WHERE seq = 6", 6),
        ("UPDATE events SET at = '2020-01-01 00:00:00' WHERE seq = 2", 2),
    ],
)
def test_verify_names_the_first_broken_event(app: Flask, tamper: str, broken: int) -> None:
    write_events(app, 6)
    with app.app_context():
        allow_tampering()
        _db.session.execute(text(tamper))
        _db.session.commit()
    result = run_verify(app)
    assert result.exit_code != 0
    assert f"event {broken}" in result.output


def test_verify_fails_on_an_inserted_event(app: Flask) -> None:
    write_events(app, 3)
    with app.app_context():
        allow_tampering()
        # Two steps, so the unique seq never collides while shifting.
        _db.session.execute(text("UPDATE events SET seq = seq + 1000 WHERE seq >= 2"))
        _db.session.execute(text("UPDATE events SET seq = seq - 999 WHERE seq >= 1000"))
        first = _db.session.execute(text("SELECT * FROM events WHERE seq = 1")).mappings().one()
        forged = dict(first)
        forged.update(id=1000, seq=2, action="forged", hash="f" * 64, prev_hash=first["hash"])
        cols = ", ".join(forged)
        _db.session.execute(
            text(f"INSERT INTO events ({cols}) VALUES ({', '.join(':' + c for c in forged)})"),
            {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in forged.items()},
        )
        _db.session.commit()
    result = run_verify(app)
    assert result.exit_code != 0 and "event 2" in result.output


def test_parallel_writers_never_fork_the_chain(app: Flask) -> None:
    """Four threads, each its own connection and transactions, append at once."""
    writers, each = 4, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with app.app_context():
                    audit.record("parallel.write", details={"writer": n, "i": i}, actor="cli")
                    _db.session.commit()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.app_context():
        result = audit.verify()
        seqs = list(_db.session.scalars(text("SELECT seq FROM events ORDER BY seq")))
    assert result.ok, result
    assert result.count == writers * each
    assert seqs == list(range(1, writers * each + 1))


def test_record_rolls_back_with_the_change_it_records(app: Flask) -> None:
    with app.app_context():
        audit.record("doomed.change", actor="cli")
        _db.session.rollback()
        assert audit.verify().count == 0


def test_admin_lists_events_with_filters(app: Flask, staff_login: Any) -> None:
    admin = staff_login("admin")
    write_events(app, 3, prefix="notice")
    page = admin.get("/staff/audit/").get_data(as_text=True)
    assert 'title="login.success"' in page and 'title="notice.event"' in page
    # In words for the reader; the code stays in the title for searching by it.
    assert f'title="login.success">{action_label("login.success")}</td>' in page
    assert '<td class="event-action">login.success' not in page
    filtered = admin.get("/staff/audit/?action=login.").get_data(as_text=True)
    assert 'title="login.success"' in filtered
    assert 'title="notice.event"' not in filtered
    by_object = admin.get("/staff/audit/?object_type=thing&object_id=2").get_data(as_text=True)
    assert by_object.count('<tr class="event">') == 1
    verified = admin.get("/staff/audit/verify").get_data(as_text=True)
    assert "校验通过" in verified


def test_audit_page_escapes_details(app: Flask, staff_login: Any) -> None:
    admin = staff_login("admin")
    with app.app_context():
        audit.record("xss.try", details={"x": "<script>alert(1)</script>"}, actor="<b>cli</b>")
        _db.session.commit()
    page = admin.get("/staff/audit/").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<b>cli</b>" not in page


# --- item 4: no IP address of a public submitter is kept ----------------------------------------

CITIZEN_IP = "203.0.113.77"
STAFF_IP = "198.51.100.9"


def _events_with_ip(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = _db.session.execute(text("SELECT action, ip FROM events ORDER BY seq"))
        return [(row.action, row.ip) for row in rows]


@pytest.mark.parametrize("anonymous", [True, False])
def test_a_public_submission_keeps_no_ip_address(
    app: Flask, published_notice: str, anonymous: bool
) -> None:
    from tests.conftest import form_post

    client = app.test_client()
    data: dict[str, Any] = {"body": "食堂浪费问题仍然存在，请核查。" * 2}
    if anonymous:
        data["anonymous"] = "y"
    else:
        data.update(contact_name="王某", contact_phone="13800138000", consent="y")
    url = f"/notices/{published_notice}/feedback"
    response = form_post(
        client,
        url,
        data,
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": CITIZEN_IP},
    )
    assert response.status_code == 303
    events = _events_with_ip(app)
    assert any(action.startswith("submission.") for action, _ip in events), events
    assert all(ip is None for _action, ip in events), events
    with app.app_context():
        dump = " ".join(map(str, _db.session.execute(text("SELECT * FROM events")).all()))
    assert CITIZEN_IP not in dump  # not in the details either


def test_staff_actions_keep_the_staff_members_ip(app: Flask, staff_login: Any) -> None:
    admin = staff_login("admin")
    assert admin.get("/staff/audit/", environ_base={"REMOTE_ADDR": STAFF_IP}).status_code == 200
    views = [ip for action, ip in _events_with_ip(app) if action == "audit.view"]
    assert views == [STAFF_IP]
