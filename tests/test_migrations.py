"""Every Alembic revision upgrades, downgrades and upgrades again on a database that holds rows
in every table, without losing or changing them, and writes what it should into them; the head
schema is exactly what the models declare, column types included.

The rows are written against each revision's own tables (reflected, see tests/migration_rows.py),
never through today's models.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, MetaData, inspect, select, text, update

from portal import create_app
from portal.extensions import db
from portal.triage.search import FTS_TABLE, PG_INDEX, alembic_include_object
from tests.conftest import DATABASE_KINDS, PG_URL, ROOT, _create_pg_database
from tests.migration_rows import (
    SEARCH_PHRASE,
    Rows,
    code_of_submission,
    insert_row,
    populate_empty_tables,
    project,
    reflect,
    shared_columns,
    snapshot,
)

MIGRATIONS = ROOT / "migrations"


@pytest.fixture(params=DATABASE_KINDS)
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    if request.param == "sqlite":
        url, drop = "sqlite:///" + str(tmp_path / "migrations.db"), None
    else:
        if not PG_URL:
            pytest.fail("PORTAL_TEST_DATABASE_URL is not set", pytrace=False)
        url, drop = _create_pg_database(PG_URL)
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "i")}
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def revision_scripts() -> list[Script]:
    """Oldest first."""
    return list(reversed(list(ScriptDirectory(str(MIGRATIONS)).walk_revisions())))


# --- what each revision does to the rows a database already holds ------------------------------

Check = Callable[[Connection, MetaData, Rows], None]


@dataclass(frozen=True)
class RevisionData:
    """``upgraded`` runs after each upgrade, given the tables as they are then and the rows from
    before the upgrade. ``prepare`` adds, at the parent revision, rows the upgrade must handle
    beyond the generic ones. ``rewrites`` names the tables whose rows the revision changes on
    purpose: the generic before/after comparison leaves them to ``upgraded`` and
    ``downgraded``."""

    upgraded: Check
    prepare: Callable[[Connection, MetaData], None] | None = None
    rewrites: frozenset[str] = frozenset()
    downgraded: Check | None = None


def _audit_chain_starts(conn: Connection, tables: MetaData, _before: Rows) -> None:
    """0001 seeds the audit chain's head row, which the first audited action extends."""
    head = tables.tables["audit_head"]
    assert [tuple(r) for r in conn.execute(select(head))] == [(1, 0, "0" * 64)]


def _outbox_rows_carry_their_code(conn: Connection, tables: MetaData, _before: Rows) -> None:
    """0002 copies each queued mail's receipt code from its submission (`flask outbox list`)."""
    submissions, outbox = tables.tables["submissions"], tables.tables["outbox"]
    codes = {id_: code for id_, code in conn.execute(select(submissions.c.id, submissions.c.code))}
    rows = conn.execute(
        select(outbox.c.submission_id, outbox.c.submission_code).order_by(outbox.c.id)
    ).all()
    # Outbox row 1 belongs to submission row 2 (see value_for); row 2 belongs to no submission.
    assert [code for _, code in rows] == [code_of_submission(2), None]
    for submission_id, code in rows:
        assert code == codes.get(submission_id)


MAILED = b"From: a@example.org\r\nSubject: both copies\r\n\r\nkept twice until 0003\r\n"
ONLY_IN_SUBMISSION = b"From: b@example.org\r\nSubject: one copy\r\n\r\nno mail row\r\n"
FOLLOW_UP = b"From: b@example.org\r\nSubject: Re: one copy\r\n\r\na follow-up\r\n"


def _raw_copies_as_0002_kept_them(conn: Connection, tables: MetaData) -> None:
    """Submission 2 came by mail (its bytes in submissions and in mail_messages); submission 1's
    bytes are only in submissions, and a follow-up's threaded mail row points to it;
    submission 3 came through the web form."""
    submissions, mails = tables.tables["submissions"], tables.tables["mail_messages"]
    first, second = conn.scalars(select(submissions.c.id).order_by(submissions.c.id)).all()
    mailed = zlib.compress(MAILED)
    # The generic mail row 1 already belongs to submission 2 (see value_for).
    conn.execute(
        update(mails)
        .where(mails.c.submission_id == second)
        .values(raw=mailed, outcome="recorded", size=len(MAILED))
    )
    conn.execute(update(submissions).where(submissions.c.id == second).values(raw_message=mailed))
    conn.execute(
        update(submissions)
        .where(submissions.c.id == first)
        .values(raw_message=zlib.compress(ONLY_IN_SUBMISSION))
    )
    insert_row(
        conn, mails, 3, submission_id=first, outcome="threaded", raw=zlib.compress(FOLLOW_UP)
    )
    insert_row(conn, submissions, 3)


def _mail_rows(conn: Connection, tables: MetaData) -> list[dict[str, Any]]:
    mails = tables.tables["mail_messages"]
    return [dict(r) for r in conn.execute(select(mails).order_by(mails.c.id)).mappings()]


def _raw_message_kept_once(conn: Connection, tables: MetaData, before: Rows) -> None:
    """0003: every mailed submission's raw message is in mail_messages, once; the one kept only
    in submissions got a mail_messages row of its own; submissions.raw_message is gone."""
    assert "raw_message" not in tables.tables["submissions"].columns
    rows = _mail_rows(conn, tables)
    codes = {s["id"]: s["code"] for s in before["submissions"]}
    own: dict[str, list[bytes]] = {}
    for row in rows:
        if row["outcome"] != "threaded" and row["raw"] is not None:
            own.setdefault(codes[row["submission_id"]], []).append(zlib.decompress(row["raw"]))
    assert own == {code_of_submission(1): [ONLY_IN_SUBMISSION], code_of_submission(2): [MAILED]}

    old = before["mail_messages"]
    assert rows[: len(old)] == old
    (added,) = rows[len(old) :]
    (submission,) = [s for s in before["submissions"] if s["code"] == code_of_submission(1)]
    assert added["submission_id"] == submission["id"]
    assert (added["outcome"], added["source"], added["release_state"], added["code"]) == (
        "recorded",
        "migration",
        "none",
        code_of_submission(1),
    )
    assert added["sha256"] == hashlib.sha256(ONLY_IN_SUBMISSION).hexdigest()
    assert added["size"] == len(ONLY_IN_SUBMISSION)
    for mail_column, submission_column in (
        ("message_id", "message_id"),
        ("dedupe_key", "message_id"),
        ("subject", "subject"),
        ("sender", "sender_email"),
        ("sender_hash", "sender_hash"),
        ("received_at", "received_at"),
    ):
        assert added[mail_column] == submission[submission_column], mail_column


def _mail_copies_stay(conn: Connection, tables: MetaData, before: Rows) -> None:
    """Downgrading 0003 refills submissions.raw_message (compared with the generic rows) and
    keeps the mail_messages row the upgrade made: 0002 kept both copies of a mailed submission."""
    old = before["mail_messages"]
    rows = _mail_rows(conn, tables)
    assert rows[: len(old)] == old
    assert [r["source"] for r in rows[len(old) :]] == ["migration"]


def _office_staff_as_0003_kept_them(conn: Connection, tables: MetaData) -> None:
    """Three accounts: a triager, an editor and an admin (0003 kept one role per user)."""
    users = tables.tables["users"]
    ids = conn.scalars(select(users.c.id).order_by(users.c.id)).all()
    conn.execute(update(users).where(users.c.id == ids[0]).values(role="triager"))
    for n, role in ((len(ids) + 1, "editor"), (len(ids) + 2, "admin")):
        insert_row(conn, users, n, role=role, email=f"user{n}@migration.test")


def _roles_by_email(conn: Connection, tables: MetaData) -> dict[str, str]:
    users = tables.tables["users"]
    return dict(conn.execute(select(users.c.email, users.c.role)).all())


def _everything_belongs_to_the_default_office(
    conn: Connection, tables: MetaData, before: Rows
) -> None:
    """0004: one default office from the OFFICE_* settings owns every notice, submission and
    mail; each office role moves to a membership of that office; admin stays global."""
    offices = tables.tables["offices"]
    (default,) = conn.execute(select(offices).where(offices.c.is_default)).mappings().all()
    assert (default["slug"], default["name"]) == ("main", "巡察整改办公室")
    for name in ("notices", "submissions", "mail_messages"):
        table = tables.tables[name]
        owners = set(conn.scalars(select(table.c.office_id)))
        assert owners == {default["id"]}, name
        assert len(conn.execute(select(table.c.id)).all()) == len(before[name]), name
    old_roles = {u["email"]: u["role"] for u in before["users"]}
    memberships, users = tables.tables["memberships"], tables.tables["users"]
    held = dict(
        conn.execute(
            select(users.c.email, memberships.c.role)
            .join(memberships, memberships.c.user_id == users.c.id)
            .where(memberships.c.office_id == default["id"])
        ).all()
    )
    office_staff = {e: r for e, r in old_roles.items() if r in ("editor", "triager", "viewer")}
    assert set(office_staff.values()) == {"editor", "triager"}
    assert {e: r for e, r in held.items() if e in office_staff} == office_staff
    roles = _roles_by_email(conn, tables)
    assert {roles[e] for e in office_staff} == {"staff"}
    assert [roles[e] for e, r in old_roles.items() if r == "admin"] == ["admin"]


def _roles_come_back(conn: Connection, tables: MetaData, before: Rows) -> None:
    assert _roles_by_email(conn, tables) == {u["email"]: u["role"] for u in before["users"]}


def _oversight_snapshot_starts_empty(conn: Connection, tables: MetaData, _before: Rows) -> None:
    """0005 adds the oversight snapshot and its lease, empty: a refresh computes them."""
    for name in ("oversight_figures", "oversight_leases"):
        assert conn.execute(select(tables.tables[name])).all() == [], name


def _row_security_tables(conn: Connection) -> set[str]:
    if conn.dialect.name != "postgresql":
        return set()
    return set(
        conn.scalars(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
                "WHERE c.relrowsecurity AND c.relforcerowsecurity "
                "AND p.policyname = 'portal_office_scope'"
            )
        )
    )


def _rows_guarded_by_office(conn: Connection, _tables: MetaData, _before: Rows) -> None:
    """0006 changes no row; on PostgreSQL the submission tables get their office policy."""
    guarded = {
        "submissions", "mail_messages", "submission_findings", "follow_ups", "attachments",
        "status_changes", "triage_notes", "assignments", "referrals", "duplicate_links",
        "replies", "outbox",
    }  # fmt: skip
    assert _row_security_tables(conn) == (guarded if conn.dialect.name == "postgresql" else set())


def _no_policy_left(conn: Connection, _tables: MetaData, _before: Rows) -> None:
    assert _row_security_tables(conn) == set()


def _notices_read_as_before(conn: Connection, tables: MetaData, before: Rows) -> None:
    """0007: existing findings get no label or description, measures no status, revisions no
    line roles, so published pages read as they did (nothing is re-parsed)."""
    findings, measures = tables.tables["findings"], tables.tables["measures"]
    revisions = tables.tables["notice_revisions"]
    assert before["findings"] and before["measures"] and before["notice_revisions"]
    labels = conn.execute(select(findings.c.label, findings.c.description)).all()
    assert labels == [("", "")] * len(before["findings"])
    assert conn.scalars(select(measures.c.status)).all() == [None] * len(before["measures"])
    roles = conn.scalars(select(revisions.c.line_roles)).all()
    assert roles == [None] * len(before["notice_revisions"])


# 0009 (issue #19, auth): recovery codes move from a JSON list on users to one row each.
_CODES_0008 = {0: ["$argon2id$hash-a", "$argon2id$hash-b"], 1: []}


def _recovery_codes_as_0008_kept_them(conn: Connection, tables: MetaData) -> None:
    users = tables.tables["users"]
    ids = conn.scalars(select(users.c.id).order_by(users.c.id)).all()
    for index, codes in _CODES_0008.items():
        conn.execute(update(users).where(users.c.id == ids[index]).values(recovery_codes=codes))
    for user_id in ids[len(_CODES_0008) :]:
        conn.execute(update(users).where(users.c.id == user_id).values(recovery_codes=[]))


def _recovery_codes_become_unused_rows(conn: Connection, tables: MetaData, before: Rows) -> None:
    """Each stored hash is now an unused recovery_codes row of its user; the list is gone."""
    assert "recovery_codes" not in tables.tables["users"].c
    ids = [row["id"] for row in before["users"]]
    codes = tables.tables["recovery_codes"]
    rows = conn.execute(select(codes.c.user_id, codes.c.code_hash, codes.c.used_at)).all()
    assert sorted(rows) == [(ids[0], h, None) for h in _CODES_0008[0]]
    for name in ("login_networks", "enrolment_links", "webauthn_credentials", "session_values"):
        assert conn.execute(select(tables.tables[name])).all() == [], name


def _recovery_codes_back_in_the_list(conn: Connection, tables: MetaData, before: Rows) -> None:
    users = tables.tables["users"]
    by_id = dict(conn.execute(select(users.c.id, users.c.recovery_codes)).all())
    first = before["users"][0]["id"]
    assert by_id[first][: len(_CODES_0008[0])] == _CODES_0008[0]


def _follow_ups_stay_the_submitters(conn: Connection, tables: MetaData, before: Rows) -> None:
    """0008: existing follow-ups are not held for review (they read on /track as before)."""
    follow_ups = tables.tables["follow_ups"]
    assert before["follow_ups"] and "review_state" in follow_ups.c
    states = conn.scalars(select(follow_ups.c.review_state)).all()
    assert states == [None] * len(before["follow_ups"])


def _audit_triggers(conn: Connection) -> set[str]:
    if conn.dialect.name != "postgresql":
        return set()
    found = conn.execute(
        text(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE tgname LIKE 'portal_audit%'"
        )
    )
    return {f"{table}:{name}" for table, name in found}


def _audit_chain_keyed_later(conn: Connection, tables: MetaData, before: Rows) -> None:
    """0010 (#19): existing events keep their plain hashes (the generic comparison checks the
    rows); the switch to keyed hashes is not set yet, so the next event sets it; no anchor yet;
    on PostgreSQL events are append-only from now on."""
    head = tables.tables["audit_head"]
    assert before["events"]
    assert conn.execute(select(head.c.keyed_from, head.c.keyed_mac)).all() == [(None, None)]
    assert conn.execute(select(tables.tables["audit_anchors"])).all() == []
    if conn.dialect.name != "postgresql":
        return
    assert _audit_triggers(conn) == {
        "events:portal_audit_append_only",
        "audit_anchors:portal_audit_append_only",
        "audit_head:portal_audit_head_guard",
    }
    events = tables.tables["events"]
    for statement in (update(events).values(actor="forged"), events.delete()):
        savepoint = conn.begin_nested()
        with pytest.raises(Exception, match="append-only"):
            conn.execute(statement)
        savepoint.rollback()


def _events_editable(conn: Connection, _tables: MetaData, _before: Rows) -> None:
    assert _audit_triggers(conn) == set()


def _no_suggestion_dismissed_yet(conn: Connection, tables: MetaData, _before: Rows) -> None:
    """0011 (E2) adds finding_dismissals, empty; on PostgreSQL under the office policy."""
    assert conn.execute(select(tables.tables["finding_dismissals"])).all() == []
    if conn.dialect.name == "postgresql":
        assert "finding_dismissals" in _row_security_tables(conn)


def _no_rating_pause_or_dispute_yet(conn: Connection, tables: MetaData, before: Rows) -> None:
    """0012 (#17) adds case_ratings, case_pauses and identity_disputes, empty, under the office
    policy on PostgreSQL; existing submissions keep their status."""
    for table in ("case_ratings", "case_pauses", "identity_disputes"):
        assert conn.execute(select(tables.tables[table])).all() == []
        if conn.dialect.name == "postgresql":
            assert table in _row_security_tables(conn)
    statuses = conn.scalars(select(tables.tables["submissions"].c.status)).all()
    assert sorted(statuses) == sorted(r["status"] for r in before["submissions"])


def _a_general_canned_reply(conn: Connection, tables: MetaData) -> None:
    """A text for no finding, as 0012 could hold (the generic rows all name a finding)."""
    from datetime import UTC, datetime

    canned = tables.tables["canned_replies"]
    conn.execute(
        canned.insert().values(
            finding_id=None, title="通用", body="感谢监督。", created_at=datetime.now(UTC)
        )
    )


def _canned_replies_belong_to_an_office(conn: Connection, tables: MetaData, before: Rows) -> None:
    """0013 (#18): a finding's canned reply belongs to its notice's office, a general one to the
    default office; none is retired."""
    canned, findings = tables.tables["canned_replies"], tables.tables["findings"]
    notices, offices = tables.tables["notices"], tables.tables["offices"]
    assert any(row["finding_id"] is None for row in before["canned_replies"])
    default = conn.scalar(select(offices.c.id).where(offices.c.is_default.is_(True)))
    office_of_finding = dict(
        conn.execute(
            select(findings.c.id, notices.c.office_id).join(
                notices, notices.c.id == findings.c.notice_id
            )
        ).all()
    )
    rows = conn.execute(select(canned.c.finding_id, canned.c.office_id, canned.c.retired_at))
    for finding_id, office_id, retired_at in rows:
        expected = default if finding_id is None else office_of_finding[finding_id]
        assert office_id == expected is not None, (finding_id, office_id)
        assert retired_at is None


# Keyed by revision id: every revision says here what its upgrade does to existing rows.
REVISIONS: dict[str, RevisionData] = {
    "0001_initial": RevisionData(_audit_chain_starts),
    "0002_outbox_code": RevisionData(_outbox_rows_carry_their_code),
    "0003_mail_raw_once": RevisionData(
        _raw_message_kept_once,
        prepare=_raw_copies_as_0002_kept_them,
        rewrites=frozenset({"mail_messages"}),
        downgraded=_mail_copies_stay,
    ),
    "0004_offices": RevisionData(
        _everything_belongs_to_the_default_office,
        prepare=_office_staff_as_0003_kept_them,
        rewrites=frozenset({"users"}),
        downgraded=_roles_come_back,
    ),
    "0005_oversight": RevisionData(_oversight_snapshot_starts_empty),
    "0006_row_security": RevisionData(_rows_guarded_by_office, downgraded=_no_policy_left),
    "0007_notice_structure": RevisionData(_notices_read_as_before),
    "0008_mail_parts": RevisionData(_follow_ups_stay_the_submitters),
    "0009_staff_auth": RevisionData(
        _recovery_codes_become_unused_rows,
        prepare=_recovery_codes_as_0008_kept_them,
        rewrites=frozenset({"users"}),
        downgraded=_recovery_codes_back_in_the_list,
    ),
    "0010_audit_anchors": RevisionData(_audit_chain_keyed_later, downgraded=_events_editable),
    "0011_routing": RevisionData(_no_suggestion_dismissed_yet),
    "0012_case_loop": RevisionData(_no_rating_pause_or_dispute_yet),
    "0013_workbench": RevisionData(
        _canned_replies_belong_to_an_office, prepare=_a_general_canned_reply
    ),
}


def test_one_linear_history() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1
    assert revision_scripts(), "no migration at all"


def test_every_revision_says_what_it_does_to_rows() -> None:
    assert sorted(s.revision for s in revision_scripts()) == sorted(REVISIONS)


def assert_same_rows(actual: Rows, expected: Rows, when: str) -> None:
    counts = {t: len(rows) for t, rows in actual.items()}
    assert counts == {t: len(rows) for t, rows in expected.items()}, f"row counts {when}"
    for table, rows in expected.items():
        assert actual[table] == rows, f"{table} rows changed {when}"


def test_each_revision_up_and_down_on_a_populated_database(empty_app: Flask) -> None:
    engine = db.engine
    for script in revision_scripts():
        revision = script.revision
        spec = REVISIONS[revision]
        if spec.prepare:
            with engine.begin() as conn:
                spec.prepare(conn, reflect(conn).tables)
        with engine.connect() as conn:
            before = reflect(conn)
            before_rows = snapshot(conn, before.tables)
        empty = [t for t, rows in before_rows.items() if not rows]
        assert not empty, f"before {revision}: tables without rows {empty}"

        upgrade(directory=str(MIGRATIONS), revision=revision)
        with engine.begin() as conn:
            after = reflect(conn)
            # While upgraded, the columns both revisions have keep their values...
            common = shared_columns(before.tables, after.tables, leave_out=spec.rewrites)
            assert_same_rows(
                project(snapshot(conn, after.tables), common),
                project(before_rows, common),
                f"by upgrade {revision}",
            )
            spec.upgraded(conn, after.tables, before_rows)
            populate_empty_tables(conn, after.tables)
            after_rows = snapshot(conn, after.tables)

        downgrade(directory=str(MIGRATIONS), revision="-1")
        with engine.connect() as conn:
            # ...and downgraded, every column of the older schema has them back.
            assert reflect(conn).shape == before.shape, f"schema after downgrading {revision}"
            whole = shared_columns(before.tables, before.tables, leave_out=spec.rewrites)
            assert_same_rows(
                project(snapshot(conn, before.tables), whole),
                project(before_rows, whole),
                f"by downgrade of {revision}",
            )
            if spec.downgraded:
                spec.downgraded(conn, before.tables, before_rows)

        upgrade(directory=str(MIGRATIONS), revision=revision)
        with engine.begin() as conn:
            assert reflect(conn).shape == after.shape, f"schema after upgrading {revision} again"
            assert_same_rows(
                project(snapshot(conn, after.tables), common),
                project(after_rows, common),
                f"by upgrade {revision} again",
            )
            spec.upgraded(conn, after.tables, before_rows)
            # Its downgrade emptied the tables it creates; the next revision finds them full.
            populate_empty_tables(conn, after.tables)

    # At head, the search index the migration installed (FTS5 / pg_trgm) answers on those rows.
    from portal.intake.models import Submission
    from portal.triage.search import search_condition

    condition = search_condition(SEARCH_PHRASE, engine.dialect.name)
    assert condition is not None
    found = db.session.scalars(select(Submission.code).where(condition).order_by(Submission.code))
    assert found.all() == [code_of_submission(1), code_of_submission(2)]


def test_head_matches_the_models(empty_app: Flask) -> None:
    upgrade(directory=str(MIGRATIONS))
    with db.engine.connect() as conn:
        # The search index objects are created by raw DDL in the migration, on purpose; nothing
        # else is excluded. SQLite keeps each column's declared type (VARCHAR(11), DATETIME,
        # JSON...), so types are compared there too; what SQLite cannot store (a timestamp's time
        # zone) is compared on PostgreSQL.
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": alembic_include_object,
            },
        )
        diff = compare_metadata(context, db.metadata)
        assert diff == []
        if conn.dialect.name == "sqlite":
            names = set(conn.scalars(text("SELECT name FROM sqlite_master")))
            assert {FTS_TABLE, "submission_search_ai", "submission_search_au"} <= names
        else:
            indexes = inspect(conn).get_indexes("submission_search")
            assert PG_INDEX in {i["name"] for i in indexes}
