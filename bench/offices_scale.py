"""Many offices at scale: `python bench/offices_scale.py [--small] [--reuse URL]`.

On a fresh PostgreSQL database (created here, schema by `flask db upgrade`, so row-level
security is on) `flask dev seed` puts 200 offices, 1,000 notices and 10 M submissions (busy
offices much busier); `--small` is 20 / 60 / 100,000; `--reuse URL` measures a database seeded
before, with its instance folder `--instance` (missing tables, indexes and policies are added
first). Then, through the Flask test client logged in (auth, the office scope, row-level
security, rendering), p50/p95 over --repeat runs of:

- a triager of the busiest office: the first queue page, a page --deep-pages deep and one
  half-way through the office's rows (jumping there with the cursor of that row; the walk to
  the deep page by next links is timed once too), and search for a 2- and a 4-character
  Chinese term (and a term no row has);
- the supervisor: the queue of every office and the oversight overview (its snapshot is
  refreshed first; that refresh is timed once);

and beside them, in the same run: the same pages served by an app that connects as a
superuser (row-level security bypassed: what the policies cost), the deep and middle pages
by OFFSET (what the keyset saves), and each page's SQL under EXPLAIN ANALYZE with and without
the policies (which indexes it uses). The app connects as a plain role made here, as
production must. Finally the RSS of this process, the worker that served every request.

Progress goes to stderr; figures to stdout and bench/results/offices_scale.json. Targets
(issue 13): queue first and deep page p95 < 50 ms, search p95 < 50 ms, overview p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# As a script, this folder comes first on sys.path and queue.py-like names could shadow the
# standard library: put the project root there instead (as triage_queue.py does).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from bench.offices_measure import Setup, measure, prepare  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "offices_scale.json"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
SIZES = {"full": (200, 1_000, 10_000_000), "small": (20, 60, 100_000)}
SEED_RATE_RE = re.compile(r"seeded (\d+) submissions .* in ([\d.]+)s")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(base_url: str, keep: bool) -> Iterator[str]:
    import psycopg

    url = make_url(base_url)
    name = f"bench_offices_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_dsn(base_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        if keep:
            log(f"== kept database {name}")
        else:
            with psycopg.connect(_admin_dsn(base_url), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@contextmanager
def plain_role(url: str) -> Iterator[str]:
    """A login role without superuser or BYPASSRLS, allowed every table: the app's account."""
    import psycopg

    name = f"bench_portal_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_dsn(url), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS")
        admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
        admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
    try:
        yield make_url(url).set(username=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_dsn(url), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            admin.execute(f"DROP OWNED BY {name}")
            admin.execute(f"DROP ROLE {name}")


def _flask(url: str, instance: Path, *args: str, nice: bool = False) -> str:
    env = {
        **os.environ,
        "PORTAL_SQLALCHEMY_DATABASE_URI": url,
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_SECRET_KEY": "bench-offices",
    }
    command = [sys.executable, "-m", "flask", "--app", "portal", "--debug", *args]
    if nice:  # the machine is shared: the long seed yields to everything else
        command = ["nice", "-n", "10", *command]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def seed(url: str, instance: Path, size: tuple[int, int, int], batch: int) -> dict[str, Any]:
    offices, notices, n = size
    log("== schema: flask db upgrade")
    _flask(url, instance, "db", "upgrade")
    log(f"== seeding {offices} offices, {notices} notices, {n:,} submissions (nice 10)")
    started = time.monotonic()
    out = _flask(
        url,
        instance,
        *("dev", "seed", "--offices", str(offices), "--notices", str(notices)),
        *("--submissions", str(n), "--seed", "13", "--batch-size", str(batch)),
        nice=True,
    )
    seconds = time.monotonic() - started
    log(out.strip())
    match = SEED_RATE_RE.search(out)
    rows, copy_seconds = (int(match[1]), float(match[2])) if match else (n, seconds)
    return {"seconds": seconds, "submissions": rows, "rows_per_second": rows / copy_seconds}


def database_size(url: str) -> dict[str, Any]:
    import psycopg

    def one(conn: Any, sql: str) -> int:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0

    with psycopg.connect(_admin_dsn(url)) as conn:
        return {
            "bytes": one(conn, "SELECT pg_database_size(current_database())"),
            "submissions_estimate": one(
                conn, "SELECT reltuples::bigint FROM pg_class WHERE relname = 'submissions'"
            ),
            "offices": one(conn, "SELECT count(*) FROM offices"),
            "notices": one(conn, "SELECT count(*) FROM notices"),
        }


def rss() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_rss_mb": fields.get("VmHWM", 0.0)}


def report(results: dict[str, Any]) -> None:
    def line(label: str, figures: dict[str, float], base: dict[str, float] | None = None) -> None:
        extra = ""
        if base:
            extra = f"   (no RLS p50 {base['p50_ms']:7.2f} ms)"
        p50, p95 = figures["p50_ms"], figures["p95_ms"]
        print(f"  {label:<40} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms{extra}")

    m, b = results["measured"], results["bypass"]
    seed_info = results.get("seed")
    size = results["database"]
    print(
        f"offices: {size['offices']}, notices: {size['notices']}, "
        f"submissions: {size['submissions_estimate']:,}; database {size['bytes'] / 2**30:.1f} GiB"
    )
    if seed_info:
        print(
            f"  seeded in {seed_info['seconds']:.0f}s ({seed_info['rows_per_second']:,.0f} rows/s)"
        )
    s = results["setup"]
    print(
        f"  busiest office {s['office_slug']}: {s['office_rows']:,} submissions; "
        f"snapshot refresh {s['refresh_seconds']:.1f}s ({s['refresh_note']})"
    )
    for key, label in (
        ("queue_first", "triager: first queue page"),
        ("queue_deep", f"triager: page {s['deep_page']} (cursor)"),
        ("queue_middle", f"triager: page {s['middle_page']:,} (cursor)"),
        ("search_2", "triager: search 2 characters"),
        ("search_4", "triager: search 4 characters"),
        ("search_rare", "triager: search, no match"),
        ("supervisor_queue", "supervisor: queue, every office"),
        ("overview", "supervisor: oversight overview"),
    ):
        line(label, m[key], b.get(key))
    walk = m["walk"]
    print(f"  walked {walk['pages']} pages by next links: {walk['mean_ms']:.1f} ms a page")
    for depth in ("deep", "middle"):
        offset, keyset = m[f"{depth}_offset_db"], m[f"{depth}_keyset_db"]
        line(f"DB: page {s[depth + '_page']:,} by OFFSET", offset)
        line(f"DB: page {s[depth + '_page']:,} by keyset", keyset)
        print(f"    -> keyset {offset['p50_ms'] / keyset['p50_ms']:.1f}x faster")
    for name, plan in results["plans"].items():
        scans = [*plan["indexes"], *(f"SEQ SCAN {t}" for t in plan["seq_scans"])]
        print(
            f"  SQL {name:<18} {plan['ms']:8.2f} ms (policies bypassed "
            f"{plan['ms_without_policies']:8.2f} ms): {', '.join(scans)}"
        )
    r = results["worker"]
    print(f"  worker RSS after the run {r['rss_mb']:.0f} MB (peak {r['peak_rss_mb']:.0f} MB)")


def run(args: argparse.Namespace, url: str, instance: Path) -> dict[str, Any]:
    offices, notices, n = SIZES["small" if args.small else "full"]
    offices, notices, n = args.offices or offices, args.notices or notices, args.n or n
    results: dict[str, Any] = {"offices": offices, "notices": notices, "n": n}
    if not args.reuse:
        results["seed"] = seed(url, instance, (offices, notices, n), args.batch)
    results["database"] = database_size(url)
    log("== setup: users, deep cursor, snapshot refresh")
    setup: Setup = prepare(url, instance, args.deep_pages, repair=bool(args.reuse))
    results["setup"] = setup.summary()
    with plain_role(url) as role_url:
        log("== measuring as a plain role (row-level security on)")
        results["measured"], results["plans"] = measure(
            role_url, instance, setup, args, owner_url=url
        )
    log("== the same pages as a superuser (row-level security bypassed)")
    results["bypass"], _ = measure(url, instance, setup, args)
    results["worker"] = rss()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="20 offices, 60 notices, 100,000")
    parser.add_argument("--offices", type=int)
    parser.add_argument("--notices", type=int)
    parser.add_argument("--n", type=int, help="submissions")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--deep-pages", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--reuse", help="URL of a database seeded before (kept as it is)")
    parser.add_argument("--keep", action="store_true", help="keep the fresh database")
    parser.add_argument(
        "--instance", type=Path, help="instance folder (its keys decrypt a reused database)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-offices-") as tmp:
        instance = args.instance or Path(tmp) / "instance"
        if args.reuse:
            results = run(args, args.reuse, instance)
        else:
            with fresh_database(args.pg_url, args.keep) as url:
                results = run(args, url, instance)
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
