"""PostgreSQL row-level security: a second line behind the app's office filters.

Superusers bypass row-level security and the test databases belong to ``postgres``, so the
app under test here logs in to the same database as a plain role made for the test. Inside a
real staff request of a triager of office A, raw SQL that skips every filter of the app still
sees only A's submissions, attachments, replies, mail and outgoing mail (not the search
index: see rls.UNGUARDED); a supervisor sees B's and the unrouted ones too; outside a request
(the CLI, a worker) everything is visible; and no row of B can be written from A's scope. On
SQLite there is no row-level security: the app's filters (portal/staff/scope.py) are the only
line there, and these tests are skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from portal import create_app
from portal.extensions import db
from portal.staff.rls import SUBMISSION_TABLES, UNGUARDED, policy_rules
from tests.conftest import ROOT, form_post, totp_code_for
from tests.fixtures.intake import gen_pdf

A_BODY = "甲局意见正文RLA，单位食堂浪费严重。"
B_BODY = "乙局意见正文RLB，公务用车私用。"
B_REPLY = "乙局答复RLR"
UNROUTED_BODY = "待分派意见RLU，反映某单位公车私用。"
# Raw SQL with no office filter at all: what the policies alone must narrow.
PROBES = {
    "codes": "SELECT code FROM submissions",
    "bodies": "SELECT body FROM submissions",
    "attachments": "SELECT s.code FROM attachments a JOIN submissions s ON s.id = a.submission_id",
    "attachment_rows": "SELECT CAST(submission_id AS text) FROM attachments",
    "replies": "SELECT body FROM replies",
    "changes": "SELECT CAST(submission_id AS text) FROM status_changes",
    "outbox": "SELECT submission_code FROM outbox WHERE submission_id IS NOT NULL",
    "mail": "SELECT subject FROM mail_messages",
}


@dataclass
class World:
    a_code: str
    b_code: str
    b_id: int
    unrouted_code: str
    office_a: int
    office_b: int


@pytest.fixture
def world(app: Flask, published_notice: str) -> World:
    from portal.intake.mail.models import MailMessage
    from portal.intake.models import Submission
    from portal.intake.service import Contact, Incoming, IncomingFile, record_submission
    from portal.notices.models import Notice
    from portal.notices.service import import_notice
    from portal.offices.service import create_office, default_office
    from portal.staff.service import create_user
    from portal.triage.replies import send_reply

    notice_text = (ROOT / "tests" / "data" / "notices" / "a-fullwidth-crlf.txt").read_text("utf-8")
    with app.app_context():
        office_a = default_office()
        office_b = create_office("rls-b", name="乙区某局")
        notice_b = import_notice(notice_text, slug="rls-b", publish=True, office=office_b).notice
        notice_a = db.session.scalars(select(Notice).where(Notice.slug == published_notice)).one()

        def record(notice: Notice | None, body: str, **kw: Any) -> Any:
            pdf = IncomingFile("附件.pdf", gen_pdf(), "application/pdf")
            return record_submission(
                Incoming(
                    channel="web",
                    notice=notice,
                    body=body,
                    consent=True,
                    contact=Contact(name="某人", email="someone@example.com"),
                    attachments=[pdf],
                    **kw,
                )
            )

        a = record(notice_a, A_BODY)
        b = record(db.session.get(Notice, notice_b.id), B_BODY)
        unrouted = record(None, UNROUTED_BODY, unrouted=True)
        sub_b = db.session.get(Submission, b.submission_id)
        assert sub_b is not None and sub_b.office_id == office_b.id
        author = create_user(
            "rls-b@b.test", role="triager", password="correct horse 9 battery", offices=[office_b]
        )
        db.session.flush()
        send_reply(sub_b, body=B_REPLY, actor_user=author)
        for office_id, subject in (
            (office_a.id, "甲局邮件"),
            (office_b.id, "乙局邮件"),
            (None, "无主邮件"),
        ):
            db.session.add(
                MailMessage(
                    dedupe_key=subject,
                    sha256="0" * 64,
                    outcome="quarantined",
                    subject=subject,
                    office_id=office_id,
                    release_state="pending",
                )
            )
        db.session.commit()
        return World(a.code, b.code, b.submission_id, unrouted.code, office_a.id, office_b.id)


@pytest.fixture
def app_role(app: Flask, database_url: str) -> Iterator[str]:
    """A plain login role (no superuser, no BYPASSRLS) allowed to use every table."""
    name = f"portal_rls_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS")
        conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
        conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
    yield name
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
        )
        conn.execute(f"DROP OWNED BY {name}")
        conn.execute(f"DROP ROLE {name}")


def _probe() -> dict[str, list[str]]:
    return {name: sorted(db.session.scalars(text(sql))) for name, sql in PROBES.items()}


@pytest.fixture
def rls_app(app: Flask, app_role: str, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The portal connected as ``app_role``, with test-only routes that run raw SQL inside a
    real staff request (login, scope hook, transaction listener and all)."""
    url = make_url(database_url).set(username=app_role).render_as_string(False)
    application = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": url})

    @application.get("/staff/_rls/probe")
    def probe() -> Any:
        first = _probe()
        if request.args.get("commit"):
            db.session.commit()  # the next statement begins a new transaction
        return jsonify(first=first, after_commit=_probe())

    @application.post("/staff/_rls/write")
    def write() -> Any:
        return jsonify(_attempt_writes(int(request.form["office_b"]), int(request.form["b_id"])))

    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _refused(sql: str, params: dict[str, Any]) -> bool:
    """True when PostgreSQL refuses the statement by a row-level security policy."""
    try:
        with db.session.begin_nested():
            db.session.execute(text(sql), params)
    except ProgrammingError as exc:
        assert "row-level security" in str(exc.orig)
        return True
    return False


def _attempt_writes(office_b: int, b_id: int) -> dict[str, Any]:
    insert_b = (
        "INSERT INTO submissions (code, secret_hash, channel, status, body, office_id, "
        "received_at, late, anonymous, created_at, updated_at) VALUES ('RLSXX-XXXXX', 'x', "
        "'web', 'received', 'forged', :office, now(), false, true, now(), now())"
    )
    own = db.session.scalars(text("SELECT id FROM submissions")).all()
    result = {
        "insert_b_refused": _refused(insert_b, {"office": office_b}),
        "move_own_to_b_refused": _refused(
            "UPDATE submissions SET office_id = :office WHERE id = :id",
            {"office": office_b, "id": own[0]},
        ),
        "reply_to_b_refused": _refused(
            "INSERT INTO replies (submission_id, body, author_name, channel, created_at, "
            "public_requested, public_state) VALUES (:id, 'forged', 'x', 'track', now(), "
            "false, 'none')",
            {"id": b_id},
        ),
        "b_rows_updated": db.session.execute(
            text("UPDATE submissions SET body = 'changed' WHERE id = :id"), {"id": b_id}
        ).rowcount,
        "b_rows_deleted": db.session.execute(
            text("DELETE FROM status_changes WHERE submission_id = :id"), {"id": b_id}
        ).rowcount,
    }
    db.session.commit()
    return result


def _login(app: Flask, make_user: Any, role: str, **kw: Any) -> FlaskClient:
    user = make_user(role, **kw)
    client = app.test_client()
    response = form_post(
        client, "/staff/login", {"email": user.email, "password": user.plain_password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    if response.location.endswith("/staff/login/verify"):
        response = form_post(client, "/staff/login/verify", {"code": totp_code_for(app, user.id)})
    assert "/staff/login" not in response.location
    return client


def _seen(client: FlaskClient, **args: str) -> dict[str, dict[str, list[str]]]:
    response = client.get("/staff/_rls/probe", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()


@pytest.mark.postgres_only
def test_a_triager_of_a_sees_only_a_rows_even_through_raw_sql(
    rls_app: Flask, world: World, make_user: Any
) -> None:
    client = _login(rls_app, make_user, "triager")  # of the default office: A
    seen = _seen(client)["first"]
    assert seen["codes"] == [world.a_code]
    assert seen["bodies"] == [A_BODY]
    assert seen["attachments"] == [world.a_code]
    assert str(world.b_id) not in seen["attachment_rows"] + seen["changes"]
    assert seen["replies"] == []
    assert world.b_code not in seen["outbox"] and seen["outbox"]
    assert seen["mail"] == ["甲局邮件"]


@pytest.mark.postgres_only
def test_the_scope_holds_in_a_transaction_begun_after_a_commit(
    rls_app: Flask, world: World, make_user: Any
) -> None:
    client = _login(rls_app, make_user, "triager")
    seen = _seen(client, commit="1")
    assert seen["after_commit"]["codes"] == [world.a_code]
    assert seen["after_commit"] == seen["first"]


@pytest.mark.postgres_only
def test_staff_on_the_public_site_are_citizens_there(
    rls_app: Flask, world: World, make_user: Any
) -> None:
    """A triager of A who sends an opinion on B's notice is not refused by A's staff scope."""
    client = _login(rls_app, make_user, "triager")
    sent = form_post(client, "/notices/rls-b/feedback", {"body": A_BODY, "anonymous": "y"})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:300]
    assert client.get("/feedback/receipt").status_code == 200


@pytest.mark.postgres_only
def test_a_supervisor_sees_every_office_and_the_unrouted(
    rls_app: Flask, world: World, make_user: Any
) -> None:
    seen = _seen(_login(rls_app, make_user, "supervisor"))["first"]
    assert seen["codes"] == sorted([world.a_code, world.b_code, world.unrouted_code])
    assert seen["replies"] == [B_REPLY]
    assert seen["mail"] == sorted(["甲局邮件", "乙局邮件", "无主邮件"])


@pytest.mark.postgres_only
def test_staff_without_an_office_see_nothing(rls_app: Flask, world: World, make_user: Any) -> None:
    from portal.offices.service import create_office

    with rls_app.app_context():
        create_office("rls-c", name="丙区某局")
        db.session.commit()
    seen = _seen(_login(rls_app, make_user, "viewer", offices=["rls-c"]))["first"]
    assert seen["codes"] == [] and seen["mail"] == [] and seen["attachments"] == []


@pytest.mark.postgres_only
def test_outside_a_request_everything_is_visible(
    rls_app: Flask, world: World, make_user: Any
) -> None:
    # A triager's request first: its transaction-local setting has ended on the pooled
    # connection the CLI now gets back, which must read as "no staff scope".
    _seen(_login(rls_app, make_user, "triager"))
    with rls_app.app_context():
        assert _probe()["codes"] == sorted([world.a_code, world.b_code, world.unrouted_code])
        assert db.session.scalar(text("SELECT current_user")) != "postgres"
    result = rls_app.test_cli_runner().invoke(args=["submissions", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert world.b_code in result.output and world.unrouted_code in result.output


@pytest.mark.postgres_only
def test_a_triager_of_a_cannot_write_rows_of_b(
    rls_app: Flask, app: Flask, world: World, make_user: Any
) -> None:
    client = _login(rls_app, make_user, "triager")
    page = client.get("/staff/queue")
    from tests.conftest import csrf_token_from

    response = client.post(
        "/staff/_rls/write",
        data={
            "office_b": world.office_b,
            "b_id": world.b_id,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json() == {
        "insert_b_refused": True,
        "move_own_to_b_refused": True,
        "reply_to_b_refused": True,
        "b_rows_updated": 0,
        "b_rows_deleted": 0,
    }
    with app.app_context():  # as postgres: B is untouched
        body = db.session.scalar(
            text("SELECT body FROM submissions WHERE id = :id"), {"id": world.b_id}
        )
        assert body == B_BODY
        assert db.session.scalar(
            text("SELECT count(*) FROM status_changes WHERE submission_id = :id"),
            {"id": world.b_id},
        )


def test_every_table_of_a_submission_is_guarded(app: Flask) -> None:
    """A new table holding a submission's data must get a policy (add it to rls.py and a
    migration), like the office isolation walk fails on a new view."""
    guarded = set(policy_rules())
    with_submission = {t.name for t in db.metadata.sorted_tables if "submission_id" in t.c}
    assert with_submission - guarded == set(UNGUARDED)
    assert {t for t, _nullable in SUBMISSION_TABLES} <= with_submission


def _policies(url: str) -> list[tuple[str, ...]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT p.tablename, p.policyname, p.cmd, p.qual, p.with_check FROM pg_policies p "
            "JOIN pg_class c ON c.relname = p.tablename "
            "WHERE c.relrowsecurity AND c.relforcerowsecurity ORDER BY 1, 2"
        ).fetchall()
    return [tuple(r) for r in rows]


@pytest.mark.postgres_only
def test_the_migration_installs_what_create_all_installs(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _create_pg_database

    migrated_url, drop = _create_pg_database(database_url)
    try:
        migrated = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": migrated_url,
                "INSTANCE_PATH": str(tmp_path),
            }
        )
        with migrated.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            db.engine.dispose()
        from_migration = _policies(migrated_url)
    finally:
        drop()
    assert {row[0] for row in from_migration} == set(policy_rules())
    assert from_migration == _policies(database_url)


@pytest.mark.postgres_only
def test_the_app_connects_without_jit(app: Flask) -> None:
    """The policies inflate the planner's cost estimates; with JIT on, a count over a few
    hundred thousand rows would spend a second compiling (see rls._without_jit)."""
    with app.app_context():
        assert db.session.scalar(text("SHOW jit")) == "off"
