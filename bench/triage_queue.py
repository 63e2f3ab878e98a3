"""Queue, search and ledger export at scale: `python bench/triage_queue.py [--n 1000000]`.

For each database (a fresh PostgreSQL database created and dropped here, and a SQLite file in
a temporary folder) it seeds N submissions with `flask dev seed`'s generator, then measures
p50/p95 of, each beside its naive version in the same run:

- the first queue page (keyset)                   vs the same page by OFFSET 0
- page 5,000 by keyset cursor                     vs OFFSET (page - 1) * page size
- a finding + status filter, first and deep page  vs OFFSET
- search for a 2- and a 4-character Chinese term  vs LIKE '%term%' on the body
- XLSX export of all rows: time and peak RSS of a child process (resource.getrusage)

Progress goes to stderr; figures to stdout and bench/results/queue.json. Targets (issue 8,
PostgreSQL): p95 < 50 ms for queue and search, deep pages >= 20x faster than OFFSET, export
peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's queue module (which psycopg imports): put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "queue.json"
NOTICE = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
TERM_2 = "食堂"
TERM_4 = "公务用车"
# In no seeded row: LIKE must read the whole table, the trigram index answers at once. The two
# terms above are in about 5 % of rows, so LIKE finds a first page early and wins there.
TERM_RARE = "区块链存证"
SEARCHES = (("search_2", TERM_2), ("search_4", TERM_4), ("search_rare", TERM_RARE))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000}


def timed(run: Callable[[], Any], repeat: int, warmup: int = 2) -> dict[str, float]:
    from portal.extensions import db

    samples = []
    for i in range(warmup + repeat):
        db.session.expunge_all()  # no help from the identity map between runs
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        db.session.rollback()
        if i >= warmup:
            samples.append(elapsed)
    return percentiles(samples)


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    import psycopg

    url = make_url(base_url)
    name = f"bench_queue_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield "sqlite:///" + str(folder / "bench.db")


def make_app(url: str, instance: Path) -> Any:
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
        }
    )


def seed(n: int, batch: int) -> Any:
    from portal.devtools.seed import seed_submissions
    from portal.extensions import db
    from portal.notices.service import import_notice

    db.create_all()
    notice = import_notice(NOTICE.read_text(encoding="utf-8"), slug="bench", publish=True).notice
    db.session.commit()
    started = time.monotonic()

    def progress(done: int) -> None:
        if done % (batch * 10) == 0 or done == n:
            rate = done / max(time.monotonic() - started, 1e-6)
            log(f"    seeded {done:,}/{n:,} ({rate:,.0f}/s)")

    seed_submissions(n, notice, batch_size=batch, progress=progress)
    return notice, time.monotonic() - started


def _offset_page(where: list[Any], offset: int, size: int) -> list[Any]:
    from portal.extensions import db
    from portal.intake.models import Submission, SubmissionFinding

    stmt = (
        select(Submission)
        .where(*where)
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .offset(offset)
        .limit(size + 1)
        .options(
            selectinload(Submission.finding_links).selectinload(SubmissionFinding.finding),
            selectinload(Submission.attachments),
        )
    )
    return list(db.session.scalars(stmt))


def _cursor_at(where: list[Any], position: int) -> str | None:
    """The keyset cursor that starts the page after ``position`` rows (setup, not timed)."""
    from portal.triage import queue

    rows = _offset_page(where, position - 1, 0)
    return queue.encode_cursor(rows[0], "received") if rows else None


def measure(notice: Any, n: int, repeat: int, deep_page: int) -> dict[str, Any]:
    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.notices.models import Finding
    from portal.triage import queue
    from portal.workdays import local_today

    size = queue.PAGE_SIZE
    today = local_today()
    dialect = db.session.get_bind().dialect.name
    deep_page = max(2, min(deep_page, n // size // 2))
    out: dict[str, Any] = {"page_size": size, "deep_page": deep_page}

    def keyset(f: queue.QueueFilter) -> Callable[[], Any]:
        return lambda: queue.page(f, user_id=None, today=today, size=size, with_counts=False)

    def where_of(f: queue.QueueFilter) -> list[Any]:
        return queue.conditions(f, user_id=None, today=today, dialect=dialect)

    log("    first page")
    everything = queue.QueueFilter()
    out["first_page"] = timed(keyset(everything), repeat)
    out["first_page_offset"] = timed(lambda: _offset_page([], 0, size), repeat)
    out["status_counts"] = timed(lambda: queue.status_counts([]), max(3, repeat // 4))

    log(f"    page {deep_page:,}")
    position = (deep_page - 1) * size
    cursor = _cursor_at([], position)
    out["deep_page_keyset"] = timed(keyset(queue.QueueFilter(after=cursor)), repeat)
    out["deep_page_offset"] = timed(lambda: _offset_page([], position, size), max(3, repeat // 4))

    log("    finding + status filter")
    busiest = db.session.execute(
        select(Finding.id)
        .join(Finding.notice)
        .where(Finding.notice_id == notice.id)
        .order_by(Finding.number)
    ).scalars()
    from sqlalchemy import func

    from portal.intake.models import SubmissionFinding

    counts = {
        fid: db.session.scalar(select(func.count()).where(SubmissionFinding.finding_id == fid))
        for fid in list(busiest)[:8]
    }
    finding = max(counts, key=lambda k: counts[k] or 0)
    filtered = queue.QueueFilter(finding=finding, statuses=("received", "in_progress"))
    matches = db.session.scalar(
        select(func.count()).select_from(Submission).where(*where_of(filtered))
    )
    out["filter_matches"] = matches
    out["filter_first_page"] = timed(keyset(filtered), repeat)
    filter_page = max(2, min(100, (matches or 0) // size // 2))
    filter_position = (filter_page - 1) * size
    f_cursor = _cursor_at(where_of(filtered), filter_position)
    out["filter_deep_page"] = filter_page
    out["filter_deep_keyset"] = timed(
        keyset(queue.QueueFilter(finding=finding, statuses=filtered.statuses, after=f_cursor)),
        repeat,
    )
    out["filter_deep_offset"] = timed(
        lambda: _offset_page(where_of(filtered), filter_position, size), max(3, repeat // 4)
    )

    for label, term in SEARCHES:
        log(f"    search {term}")
        pattern = f"%{term}%"
        out[label] = timed(keyset(queue.QueueFilter(q=term)), repeat)
        out[f"{label}_like"] = timed(
            lambda pattern=pattern: _offset_page([Submission.body.like(pattern)], 0, size),
            max(3, repeat // 2),
        )
    return out


EXPORT_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from bench.triage_queue import make_app
from pathlib import Path
app = make_app({url!r}, Path({instance!r}))
with app.app_context():
    from portal.ledger.export import export_submissions
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with open({target!r}, "wb") as out:
        rows = export_submissions("xlsx", out)
    seconds = time.perf_counter() - started
print(rows, seconds, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def export_in_child(url: str, instance: Path, folder: Path) -> dict[str, Any]:
    target = folder / "ledger.xlsx"
    code = EXPORT_CHILD.format(root=str(ROOT), url=url, instance=str(instance), target=str(target))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    rows, seconds, before_kb, max_rss_kb = result.stdout.split()[-4:]
    return {
        "rows": int(rows),
        "seconds": float(seconds),
        "peak_rss_mb": int(max_rss_kb) / 1024,
        "rss_before_export_mb": int(before_kb) / 1024,
        "file_mb": target.stat().st_size / 2**20,
    }


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-queue-{kind}-") as tmp:
        folder = Path(tmp)
        instance = folder / "instance"
        database = (
            postgres_database(args.pg_url) if kind == "postgresql" else sqlite_database(folder)
        )
        with database as url:
            app = make_app(url, instance)
            with app.app_context():
                log(f"== {kind}: seeding {args.n:,} submissions")
                notice, seed_seconds = seed(args.n, args.batch)
                log(f"== {kind}: measuring")
                figures = measure(notice, args.n, args.repeat, args.deep_page)
                figures["seed_seconds"] = seed_seconds
                from portal.extensions import db

                db.session.remove()
                db.engine.dispose()
            if not args.skip_export:
                log(f"== {kind}: XLSX export in a child process")
                figures["export_xlsx"] = export_in_child(url, instance, folder)
    return figures


def ratio(slow: dict[str, float], fast: dict[str, float]) -> float:
    return slow["p50_ms"] / max(fast["p50_ms"], 1e-6)


def report(kind: str, f: dict[str, Any]) -> None:
    def line(label: str, key: str) -> None:
        v = f[key]
        print(f"  {label:<34} p50 {v['p50_ms']:9.2f} ms   p95 {v['p95_ms']:9.2f} ms")

    print(f"{kind}: seeded in {f['seed_seconds']:.0f}s; page size {f['page_size']}")
    line("first page (keyset)", "first_page")
    line("first page (OFFSET 0)", "first_page_offset")
    line("counts per status", "status_counts")
    line(f"page {f['deep_page']:,} (keyset)", "deep_page_keyset")
    line(f"page {f['deep_page']:,} (OFFSET)", "deep_page_offset")
    print(f"    -> keyset {ratio(f['deep_page_offset'], f['deep_page_keyset']):.0f}x faster")
    line(f"finding+status ({f['filter_matches']:,} rows)", "filter_first_page")
    line(f"  page {f['filter_deep_page']} (keyset)", "filter_deep_keyset")
    line(f"  page {f['filter_deep_page']} (OFFSET)", "filter_deep_offset")
    print(f"    -> keyset {ratio(f['filter_deep_offset'], f['filter_deep_keyset']):.1f}x faster")
    for label, term in SEARCHES:
        line(f"search {term} (index)", label)
        line(f"search {term} (LIKE body)", f"{label}_like")
        print(f"    -> index {ratio(f[f'{label}_like'], f[label]):.1f}x vs LIKE")
    e = f.get("export_xlsx")
    if e is None:
        return
    print(
        f"  XLSX export: {e['rows']:,} rows in {e['seconds']:.0f}s, "
        f"peak RSS {e['peak_rss_mb']:.0f} MB (app loaded: {e['rss_before_export_mb']:.0f} MB), "
        f"file {e['file_mb']:.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("both", "postgresql", "sqlite"), default="both")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--deep-page", type=int, default=5000)
    parser.add_argument("--skip-export", action="store_true", help="queue and search only")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", PG_DEFAULT))
    args = parser.parse_args()
    kinds = ("postgresql", "sqlite") if args.db == "both" else (args.db,)
    results = {"n": args.n}
    for kind in kinds:
        results[kind] = run_one(kind, args)
        report(kind, results[kind])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
