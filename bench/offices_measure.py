"""The measuring half of bench/offices_scale.py: setup on a seeded database, then timed
requests through the Flask test client, the DB-level baselines and the query plans."""

from __future__ import annotations

import argparse
import html
import re
import statistics
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASSWORD = "bench horse battery staple 13"  # noqa: S105 - a throwaway bench account
TRIAGER = "bench-triager@offices.bench"
SUPERVISOR = "bench-supervisor@offices.bench"
TERM_2 = "食堂"
TERM_4 = "公务用车"
TERM_RARE = "区块链存证"  # in no seeded row
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEXT_RE = re.compile(r'rel="next" href="([^"]+)"')
INDEX_RE = re.compile(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")
SEQ_RE = re.compile(r"Seq Scan on (\w+)")


@dataclass
class Setup:
    office_id: int
    office_slug: str
    office_rows: int
    deep_page: int
    deep_cursor: str
    middle_page: int  # half-way through the office's rows: where OFFSET hurts
    middle_cursor: str
    refresh_seconds: float
    refresh_note: str

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "runs": len(ordered)}


def timed(run: Callable[[], Any], repeat: int, warmup: int = 2) -> dict[str, float]:
    samples = []
    for i in range(warmup + repeat):
        started = time.perf_counter()
        run()
        if i >= warmup:
            samples.append(time.perf_counter() - started)
    return percentiles(samples)


def make_app(url: str, instance: Path) -> Any:
    from portal import create_app
    from portal.staff import rls  # noqa: F401  (its connection settings: JIT off)

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "bench-offices",
            "RATELIMIT_ENABLED": False,
            # A second factor is asked once at login, never per request: not what is measured.
            "TOTP_REQUIRED_ROLES": (),
            # The snapshot is refreshed in setup (and timed there), not by a measured request.
            "OVERSIGHT_MAX_AGE": 10**9,
        }
    )


def _repair(connection: Any) -> None:
    """A database seeded by an older `flask dev seed` may lack indexes, tables or policies."""
    from sqlalchemy import text

    from portal.extensions import db
    from portal.staff.rls import install_row_security
    from portal.triage import search

    connection.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))  # index builds
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)
    search.install_search_ddl(connection)
    install_row_security(connection)


def _user(email: str, role: str, offices: list[Any]) -> None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.staff.models import User
    from portal.staff.service import create_user, set_membership

    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        create_user(email, role=role, password=PASSWORD, offices=offices)
    else:
        for office in offices:
            set_membership(user, office, role, actor="bench")
    db.session.commit()


def _refresh_snapshot(limit_s: int = 300) -> tuple[float, str]:
    """Refresh the oversight snapshot (timed): with the server's settings within ``limit_s``,
    else again with 256 MB of work_mem (a NOT IN over every spam id only hashes in memory)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from portal.extensions import db
    from portal.ledger import oversight

    for setting, note in (
        (f"SET statement_timeout = '{limit_s}s'", "server settings"),
        ("SET work_mem = '256MB'", f"work_mem 256MB (over {limit_s}s with the server's)"),
    ):
        db.session.execute(text(setting))
        started = time.monotonic()
        try:
            oversight.refresh_figures()
        except OperationalError:  # the statement timeout
            db.session.rollback()
            continue
        finally:
            db.session.execute(text("RESET statement_timeout"))
        return time.monotonic() - started, note
    raise RuntimeError("the oversight snapshot could not be refreshed")


def _cursor_at(office_id: int, rows_before: int) -> str:
    """The queue cursor that starts the page after ``rows_before`` rows of the office."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.triage import queue

    row = db.session.scalars(
        select(Submission)
        .where(Submission.office_id == office_id)
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .offset(rows_before - 1)
        .limit(1)
    ).one()
    return queue.encode_cursor(row, "received")


def prepare(url: str, instance: Path, deep_pages: int, *, repair: bool) -> Setup:
    """As the database owner: users, the busiest office, a deep cursor, a fresh snapshot."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.offices.models import Office
    from portal.triage import queue

    app = make_app(url, instance)
    with app.app_context():
        if repair:
            db.create_all()
            with db.engine.begin() as connection:
                _repair(connection)
        office_id, rows = db.session.execute(
            select(Submission.office_id, func.count())
            .group_by(Submission.office_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        office = db.session.get(Office, office_id)
        assert office is not None
        _user(TRIAGER, "triager", [office])
        _user(SUPERVISOR, "supervisor", [])
        middle_pages = max(deep_pages, rows // queue.PAGE_SIZE // 2)
        cursors = [
            _cursor_at(office_id, pages * queue.PAGE_SIZE) for pages in (deep_pages, middle_pages)
        ]
        refresh, note = _refresh_snapshot()
        setup = Setup(
            office_id=office_id,
            office_slug=office.slug,
            office_rows=rows,
            deep_page=deep_pages + 1,
            deep_cursor=cursors[0],
            middle_page=middle_pages + 1,
            middle_cursor=cursors[1],
            refresh_seconds=refresh,
            refresh_note=note,
        )
        db.session.remove()
        db.engine.dispose()
    return setup


def login(app: Any, email: str) -> Any:
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = CSRF_RE.search(page)
    assert token, "no CSRF token on the login page"
    response = client.post(
        "/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert response.status_code == 302 and "/staff/login" not in response.location, email
    return client


def _get(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _walk(client: Any, pages: int) -> dict[str, Any]:
    """Follow the queue's next links ``pages`` times, as a person paging through would."""
    url, times = "/staff/queue", []
    for _ in range(pages):
        started = time.perf_counter()
        body = _get(client, url)
        times.append(time.perf_counter() - started)
        found = NEXT_RE.search(body)
        assert found, f"no next page after {len(times)} pages"
        url = html.unescape(found[1])
    return {"pages": pages, "mean_ms": statistics.mean(times) * 1000, "last_url": url}


def _pages(setup: Setup) -> dict[str, tuple[str, str]]:
    """What a person opens: (which client, URL)."""
    return {
        "queue_first": ("triager", "/staff/queue"),
        "queue_deep": ("triager", f"/staff/queue?after={setup.deep_cursor}"),
        "queue_middle": ("triager", f"/staff/queue?after={setup.middle_cursor}"),
        "search_2": ("triager", f"/staff/queue?q={urllib.parse.quote(TERM_2)}"),
        "search_4": ("triager", f"/staff/queue?q={urllib.parse.quote(TERM_4)}"),
        "search_rare": ("triager", f"/staff/queue?q={urllib.parse.quote(TERM_RARE)}"),
        "supervisor_queue": ("supervisor", "/staff/queue"),
        "overview": ("supervisor", "/staff/oversight/"),
    }


def _db_baselines(setup: Setup, repeat: int) -> dict[str, Any]:
    """The deep and the middle page by OFFSET against the same pages by keyset, without HTTP."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.triage import queue
    from portal.workdays import local_today

    offices = frozenset({setup.office_id})

    def offset(page: int) -> Callable[[], None]:
        def run() -> None:
            stmt = (
                select(Submission)
                .where(Submission.office_id == setup.office_id)
                .order_by(Submission.received_at.desc(), Submission.id.desc())
                .offset((page - 1) * queue.PAGE_SIZE)
                .limit(queue.PAGE_SIZE + 1)
                .options(
                    selectinload(Submission.finding_links), selectinload(Submission.attachments)
                )
            )
            list(db.session.scalars(stmt))
            db.session.rollback()

        return run

    def keyset(cursor: str) -> Callable[[], None]:
        def run() -> None:
            f = queue.QueueFilter(after=cursor)
            queue.page(f, user_id=None, today=local_today(), offices=offices, with_counts=False)
            db.session.rollback()

        return run

    return {
        "deep_offset_db": timed(offset(setup.deep_page), max(5, repeat // 5)),
        "deep_keyset_db": timed(keyset(setup.deep_cursor), repeat),
        "middle_offset_db": timed(offset(setup.middle_page), 5, warmup=1),
        "middle_keyset_db": timed(keyset(setup.middle_cursor), repeat),
    }


def _explain(dsn: str, scope: str, sql: str, params: dict[str, Any]) -> tuple[str, float]:
    """The plan of ``sql`` with the office scope set, and its median execution time of 5."""
    import psycopg

    times, plan = [], ""
    with psycopg.connect(dsn) as conn:
        for _ in range(5):
            conn.execute("SELECT set_config('portal.office_ids', %s, true)", (scope,))
            rows = [r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)]
            conn.rollback()
            plan = "\n".join(rows)
            times.append(float(rows[-1].split(":")[1].split()[0]))  # Execution Time: N ms
    return plan, statistics.median(times)


def _plans(role_url: str, owner_url: str, setup: Setup) -> dict[str, dict[str, Any]]:
    """Per page query: the indexes PostgreSQL uses under the policies (as the plain role, with
    the scope set) and its execution time, beside the same query as the owner superuser
    (policies bypassed)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.engine import make_url

    from portal.triage import queue
    from portal.workdays import local_today

    own = frozenset({setup.office_id})
    cases = {
        "triager_first": (str(setup.office_id), own, queue.QueueFilter()),
        "triager_deep": (str(setup.office_id), own, queue.QueueFilter(after=setup.deep_cursor)),
        "triager_search_2": (str(setup.office_id), own, queue.QueueFilter(q=TERM_2)),
        "triager_search_4": (str(setup.office_id), own, queue.QueueFilter(q=TERM_4)),
        "supervisor_first": ("*", None, queue.QueueFilter()),
    }
    role, owner = (
        make_url(u).set(drivername="postgresql").render_as_string(hide_password=False)
        for u in (role_url, owner_url)
    )
    out = {}
    for name, (scope, offices, f) in cases.items():
        stmt = queue.rows_statement(f, user_id=None, today=local_today(), offices=offices)
        compiled = stmt.compile(
            dialect=postgresql.psycopg.dialect(), compile_kwargs={"render_postcompile": True}
        )
        plan, ms = _explain(role, scope, str(compiled), compiled.params)
        _plan, ms_owner = _explain(owner, scope, str(compiled), compiled.params)
        out[name] = {
            "indexes": sorted(set(INDEX_RE.findall(plan))),
            "seq_scans": sorted(set(SEQ_RE.findall(plan))),
            "ms": ms,
            "ms_without_policies": ms_owner,
        }
    return out


def measure(
    url: str,
    instance: Path,
    setup: Setup,
    args: argparse.Namespace,
    *,
    owner_url: str | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every page through the test client; given the owner's URL (``url`` is then the plain
    role's) also the walk, the DB baselines and the plans."""
    app = make_app(url, instance)
    clients = {"triager": login(app, TRIAGER), "supervisor": login(app, SUPERVISOR)}
    figures: dict[str, Any] = {}
    for name, (who, page_url) in _pages(setup).items():
        client = clients[who]
        figures[name] = timed(
            lambda client=client, page_url=page_url: _get(client, page_url), args.repeat
        )
    plans: dict[str, dict[str, Any]] = {}
    if owner_url:
        figures["walk"] = _walk(clients["triager"], setup.deep_page - 1)
        with app.app_context():
            figures.update(_db_baselines(setup, args.repeat))
            plans = _plans(url, owner_url, setup)
    with app.app_context():
        from portal.extensions import db

        db.session.remove()
        db.engine.dispose()
    return figures, plans
