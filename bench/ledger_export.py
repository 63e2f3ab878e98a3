"""The 台账 XLSX at scale: `python bench/ledger_export.py [--n 1000000] [--db postgresql]`.

Seeds N submissions (`flask dev seed`'s generator) in a fresh database, then exports every row
twice, each in its own child process (peak RSS from resource.getrusage, so one run cannot
inflate the other's): the ledger as it is now (23 columns, two summary sheets, print set-up,
rows in received order) and, as the baseline in the same run, the export this issue started
from (`git show HEAD:portal/ledger/export.py`, 16 columns, id order; stopped after
--baseline-timeout seconds). Target (issue #18): peak
RSS < 300 MB at 1M rows. Figures to stdout and bench/results/ledger_export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.triage_queue import (  # noqa: E402
    PG_DEFAULT,
    log,
    make_app,
    postgres_database,
    seed,
    sqlite_database,
)

RESULTS = ROOT / "bench" / "results" / "ledger_export.json"

CHILD = """
import importlib.util, resource, sys, time
sys.path.insert(0, {root!r})
from bench.triage_queue import make_app
from pathlib import Path
app = make_app({url!r}, Path({instance!r}))
with app.app_context():
    if {module!r}:
        spec = importlib.util.spec_from_file_location("baseline_export", {module!r})
        export = importlib.util.module_from_spec(spec)
        sys.modules["baseline_export"] = export  # its dataclasses look themselves up there
        spec.loader.exec_module(export)
    else:
        from portal.ledger import export
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux: reset the high-water mark, so VmHWM afterwards is the export's own peak (the app's
    # start-up may have peaked higher, and ru_maxrss never comes down).
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    started = time.perf_counter()
    with open({target!r}, "wb") as out:
        rows = export.export_submissions("xlsx", out)
    seconds = time.perf_counter() - started
    status = open("/proc/self/status").read()
    hwm = int(status.split("VmHWM:")[1].split()[0])
print(rows, seconds, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm)
"""


def baseline_module(folder: Path) -> Path | None:
    """The export as committed at HEAD (before this issue's change), or None outside git."""
    try:
        text = subprocess.run(
            ["git", "show", "HEAD:portal/ledger/export.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = folder / "baseline_export.py"
    path.write_text(text, encoding="utf-8")
    return path


def export_in_child(
    url: str, instance: Path, target: Path, module: Path | None, timeout: float | None = None
) -> dict[str, Any]:
    code = CHILD.format(
        root=str(ROOT),
        url=url,
        instance=str(instance),
        target=str(target),
        module=str(module) if module else "",
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"timed_out_after_seconds": timeout}
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    rows, seconds, before_kb, max_rss_kb, export_hwm_kb = result.stdout.split()[-5:]
    return {
        "rows": int(rows),
        "seconds": round(float(seconds), 1),
        "rows_per_second": round(int(rows) / float(seconds)),
        "peak_rss_mb": round(int(max_rss_kb) / 1024, 1),
        "export_peak_rss_mb": round(int(export_hwm_kb) / 1024, 1),
        "rss_before_export_mb": round(int(before_kb) / 1024, 1),
        "file_mb": round(target.stat().st_size / 2**20, 1),
    }


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-ledger-{kind}-") as tmp:
        folder = Path(tmp)
        instance = folder / "instance"
        database = (
            postgres_database(args.pg_url) if kind == "postgresql" else sqlite_database(folder)
        )
        with database as url:
            app = make_app(url, instance)
            with app.app_context():
                log(f"== {kind}: seeding {args.n:,} submissions")
                _notice, seed_seconds = seed(args.n, args.batch)
                from portal.extensions import db

                db.session.remove()
                db.engine.dispose()
            figures: dict[str, Any] = {"seed_seconds": round(seed_seconds)}
            log(f"== {kind}: ledger export (now)")
            figures["ledger"] = export_in_child(url, instance, folder / "ledger.xlsx", None)
            report(kind, figures)
            baseline = baseline_module(folder)
            if baseline is not None and not args.skip_baseline:
                log(f"== {kind}: baseline export (HEAD)")
                figures["baseline"] = export_in_child(
                    url, instance, folder / "baseline.xlsx", baseline, args.baseline_timeout
                )
    return figures


def report(kind: str, figures: dict[str, Any]) -> None:
    for name in ("baseline", "ledger"):
        f = figures.get(name)
        if f and "timed_out_after_seconds" in f:
            print(f"{kind:10} {name:8}: not done after {f['timed_out_after_seconds']:.0f} s")
        elif f:
            print(
                f"{kind:10} {name:8}: {f['rows']:,} rows in {f['seconds']:.0f} s "
                f"({f['rows_per_second']:,}/s), peak RSS during the export "
                f"{f['export_peak_rss_mb']:.0f} MB (process peak {f['peak_rss_mb']:.0f} MB, "
                f"{f['rss_before_export_mb']:.0f} MB before the export), "
                f"file {f['file_mb']:.0f} MB",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("both", "postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--skip-baseline", action="store_true", help="the ledger export only")
    # HEAD's export joins the answered-at subquery in its cursor; PostgreSQL's fast-start plan
    # nests it under every row, so at 1M rows it may not finish: stop it and say so.
    parser.add_argument("--baseline-timeout", type=float, default=600)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", PG_DEFAULT))
    args = parser.parse_args()
    kinds = ("postgresql", "sqlite") if args.db == "both" else (args.db,)
    results: dict[str, Any] = {"n": args.n}
    for kind in kinds:
        results[kind] = run(kind, args)
        if "baseline" in results[kind]:
            report(kind, {"baseline": results[kind]["baseline"]})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
