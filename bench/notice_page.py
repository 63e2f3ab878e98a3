"""Notice page throughput: (a) the portal through gunicorn, (b) the ceiling, (c) nginx static.

All three are hit by wrk on loopback with the same connections in the same run; prints req/s,
p50/p99, the ratios a/b and a/c, and the 304 path. Figures go into issue notes, never tests.
Run: `make bench` or `.venv/bin/python bench/notice_page.py [--seconds 10]`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, VENV_BIN, WrkResult, gunicorn, nginx_static, save, wrk

SEED = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"


def prepare_instance(instance: Path) -> dict[str, str]:
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(instance), "FLASK_APP": "portal"}
    env.pop("PORTAL_SQLALCHEMY_DATABASE_URI", None)
    flask = str(VENV_BIN / "flask")
    subprocess.run([flask, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run(
        [flask, "notices", "import", str(SEED), "--slug", "seed", "--publish"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run = {"seconds": args.seconds, "connections": args.connections, "rounds": args.rounds}

    with tempfile.TemporaryDirectory(prefix="bench-notice-") as tmp:
        tmp_path = Path(tmp)
        env = prepare_instance(tmp_path / "instance")
        page_file = tmp_path / "static" / "page.html"
        page_file.parent.mkdir()
        # All servers stay up; rounds interleave a, a', b, c so background load hits all alike.
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(gunicorn("wsgi:app", env=env))
            url = f"{portal}/notices/seed"
            with urllib.request.urlopen(url) as response:
                body = response.read()
                etag = response.headers["ETag"]
            page_file.write_bytes(body)
            ceiling_env = {**env, "BENCH_PAGE_FILE": str(page_file)}
            ceiling = stack.enter_context(gunicorn("bench.ceiling_app:app", env=ceiling_env))
            static = stack.enter_context(nginx_static(page_file.parent))
            targets = [
                ("a portal /notices/seed", url, None),
                ("a' portal 304", url, {"If-None-Match": etag}),
                ("b ceiling: bare Flask view", f"{ceiling}/page", None),
                ("c nginx static file", f"{static}/page.html", None),
            ]
            rounds = [
                [wrk(label, u, headers=h, **run_args(args)) for label, u, h in targets]
                for _ in range(args.rounds)
            ]
    results = [median_result([r[i] for r in rounds]) for i in range(len(targets))]
    a, a304, b, c = results
    report = {
        "run": run,
        "page_bytes": len(body),
        "rounds": rounds,
        "results": results,
        "ratio_a_over_b": round(a.requests_per_s / b.requests_per_s, 3),
        "ratio_a_over_c": round(a.requests_per_s / c.requests_per_s, 3),
        "ratio_b_over_c": round(b.requests_per_s / c.requests_per_s, 3),
        "ratio_304_over_a": round(a304.requests_per_s / a.requests_per_s, 3),
    }
    print(
        f"notice page, {len(body)} bytes, wrk -c{args.connections} -d{args.seconds}s, "
        f"median of {args.rounds} interleaved rounds"
    )
    for r in results:
        print(
            f"  {r.label:32s} {r.requests_per_s:9.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
            f"p99 {r.p99_ms:6.2f} ms  non-2xx/3xx {r.non_2xx}  socket errors {r.errors}"
        )
    print(
        f"  a/b = {report['ratio_a_over_b']:.0%}   a/c = {report['ratio_a_over_c']:.1%}   "
        f"b/c = {report['ratio_b_over_c']:.1%}   304/a = {report['ratio_304_over_a']:.2f}x"
    )
    print("  saved", save("notice_page", report))


def median_result(samples: list[WrkResult]) -> WrkResult:
    ordered = sorted(samples, key=lambda r: r.requests_per_s)
    return ordered[len(ordered) // 2]


def run_args(args: argparse.Namespace) -> dict[str, int]:
    return {"seconds": args.seconds, "connections": args.connections}


if __name__ == "__main__":
    main()
