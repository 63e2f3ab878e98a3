"""Submissions per second through gunicorn on PostgreSQL, against a bare insert-a-row ceiling.

Run: .venv/bin/python bench/intake_submit.py [--seconds 20] [--threads 8] [--workers N]
Creates a fresh PostgreSQL database (PORTAL_TEST_DATABASE_URL's server, default
postgresql://postgres@127.0.0.1:5432/test), imports and publishes the seed notice, starts gunicorn
(2 x cores sync workers; captcha off, rate limits off) and drives it with a threaded client that,
like a browser, GETs the page for its CSRF token and then POSTs. Two phases in the same run:
the bare view (bench/intake_wsgi.py, PORTAL_BENCH_VIEWS=1) then the real feedback form. Prints
rate, p50/p95 per GET+POST pair, errors, and rows counted afterwards (lost = accepted - rows).
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from tests.fixtures.gunicorn import (  # noqa: E402
    PG_BASE_URL,
    create_schema,
    fresh_pg_database,
    start_gunicorn,
)

SEED = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"
SLUG = "bench"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
BODY = "关于整改落实情况的意见：建议公开采购项目审查报告的摘要，接受群众监督。编号{n}"


@dataclass
class Phase:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> int:
        return len(self.latencies)


def _token(html: str) -> str:
    match = CSRF_RE.search(html)
    if not match:
        raise ValueError("no csrf_token in page")
    return match.group(1) or match.group(2)


def _client(phase: Phase, form_url: str, post_url: str, deadline: float, worker: int) -> None:
    session = requests.Session()
    n = 0
    while time.monotonic() < deadline:
        n += 1
        started = time.perf_counter()
        try:
            page = session.get(form_url, timeout=30)
            page.raise_for_status()
            data = {"csrf_token": _token(page.text), "body": BODY.format(n=f"{worker}-{n}")}
            posted = time.perf_counter()
            answer = session.post(post_url, data=data, allow_redirects=False, timeout=30)
            if answer.status_code != 303:
                raise ValueError(f"POST answered {answer.status_code}")
        except (requests.RequestException, ValueError) as exc:
            with phase.lock:
                phase.errors.append(str(exc)[:200])
            continue
        done = time.perf_counter()
        with phase.lock:
            phase.latencies.append(done - started)
            phase.post_latencies.append(done - posted)


def run_phase(phase: Phase, base: str, form_path: str, post_path: str, threads: int) -> float:
    deadline = time.monotonic() + phase.seconds
    started = time.monotonic()
    pool = [
        threading.Thread(
            target=_client, args=(phase, base + form_path, base + post_path, deadline, i)
        )
        for i in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.monotonic() - started


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(phase: Phase, elapsed: float, rows: int) -> None:
    lat = sorted(phase.latencies)
    rate = phase.accepted / elapsed if elapsed else 0.0
    print(
        f"{phase.name:<10} {rate:8.1f}/s  accepted {phase.accepted:6d}  "
        f"p50 {_percentile(lat, 50) * 1000:6.1f} ms  p95 {_percentile(lat, 95) * 1000:6.1f} ms  "
        f"(POST p95 {_percentile(sorted(phase.post_latencies), 95) * 1000:6.1f} ms)  "
        f"errors {len(phase.errors):4d}  rows {rows:6d}  lost {phase.accepted - rows}"
    )
    for message in sorted(set(phase.errors))[:5]:
        print(f"           error: {message}")


def _prepare(database_url: str, instance: Path) -> None:
    from portal import create_app
    from portal.extensions import db
    from portal.notices.service import import_notice

    create_schema(database_url, instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        import_notice(SEED.read_text(encoding="utf-8"), slug=SLUG, publish=True)
        db.session.execute(text("CREATE TABLE bench_rows (id serial PRIMARY KEY, body text)"))
        db.session.commit()
        db.engine.dispose()


def _count_rows(database_url: str) -> tuple[int, int]:
    from portal.intake.models import Submission

    engine = create_engine(database_url)
    with engine.connect() as conn:
        bare = conn.scalar(text("SELECT count(*) FROM bench_rows")) or 0
        submissions = conn.scalar(select(func.count()).select_from(Submission.__table__)) or 0
    engine.dispose()
    return bare, submissions


def _extra_env() -> dict[str, str]:
    import os

    return {"PGOPTIONS": os.environ["BENCH_PGOPTIONS"]} if os.environ.get("BENCH_PGOPTIONS") else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2 * multiprocessing.cpu_count())
    parser.add_argument("--database", default=PG_BASE_URL, help="PostgreSQL server to use")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp,
        fresh_pg_database(args.database, prefix="portal_bench") as database_url,
    ):
        tmp_dir = Path(tmp)
        _prepare(database_url, tmp_dir / "prepare")
        config = {"RATELIMIT_ENABLED": False, "NOTICE_CACHE_TTL": 1.0}
        with start_gunicorn(
            database_url,
            tmp_dir,
            workers=args.workers,
            app="bench.intake_wsgi:app",
            config=config,
            env={"PORTAL_BENCH_VIEWS": "1", **_extra_env()},
        ) as server:
            print(
                f"gunicorn {args.workers} sync workers, {args.threads} client threads, "
                f"{args.seconds:.0f} s per phase, {multiprocessing.cpu_count()} cores shared "
                "by client and server"
            )
            bare = Phase("bare", args.seconds)
            bare_elapsed = run_phase(bare, server.url, "/bench/form", "/bench/insert", args.threads)
            form = f"/notices/{SLUG}/feedback"
            intake = Phase("intake", args.seconds)
            intake_elapsed = run_phase(intake, server.url, form, form, args.threads)
            if bare.errors or intake.errors:
                print("server log (tail):\n" + server.log()[-3000:])
        bare_rows, intake_rows = _count_rows(database_url)
    report(bare, bare_elapsed, bare_rows)
    report(intake, intake_elapsed, intake_rows)
    lost = (bare.accepted - bare_rows) + (intake.accepted - intake_rows)
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
