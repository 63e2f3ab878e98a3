"""Load: 90% notice reads, 10% web submissions, through nginx and straight to gunicorn.

Run: .venv/bin/python bench/load.py [--seconds 45] [--threads 16] [--workers N]
Setup, all on loopback: a fresh PostgreSQL database (PORTAL_TEST_DATABASE_URL's server), Redis
rate-limit storage (PORTAL_TEST_REDIS_URL, default redis://127.0.0.1:6379/14) with the limits
raised for the run, gunicorn with deploy/gunicorn.conf.py, and the shipped nginx site
(deploy/nginx/portal.conf with a throw-away certificate, as deploy/check.sh does).
Readers are anonymous (no cookie: nginx's micro-cache may answer); a submitter is a new browser
each time (GET the form for its CSRF token, then POST). Per phase: requests/s, p50/p95 of reads
and of submissions, errors, submissions stored vs receipts, and the peak RSS of the gunicorn
workers (psutil). Bounded: two phases of --seconds each plus ~20 s of setup.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ holds a queue.py that would shadow the standard library's queue (urllib3 needs it):
# drop the script's own folder from the path, import from the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.harness import free_port, save  # noqa: E402
from tests.fixtures.gunicorn import (  # noqa: E402
    create_schema,
    fresh_pg_database,
    start_gunicorn,
)

SEED = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"
SLUG = "load"
READ_SHARE = 0.9
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
BODY = "负载测试意见{n}：建议公开整改台账，接受群众监督，窗口不再要求重复提交材料。"


@dataclass
class Phase:
    name: str
    base: str
    reads: list[float] = field(default_factory=list)
    submits: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    receipts: int = 0
    rss_peak_mb: float = 0.0
    rss_per_worker_mb: float = 0.0
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message[:160])


def _read(phase: Phase, session: requests.Session) -> None:
    started = time.perf_counter()
    answer = session.get(f"{phase.base}/notices/{SLUG}", timeout=30, verify=False)
    if answer.status_code != 200:
        phase.fail(f"read {answer.status_code}")
        return
    with phase.lock:
        phase.reads.append(time.perf_counter() - started)


def _submit(phase: Phase, n: str) -> None:
    browser = requests.Session()
    url = f"{phase.base}/notices/{SLUG}/feedback"
    started = time.perf_counter()
    page = browser.get(url, timeout=30, verify=False)
    token = CSRF_RE.search(page.text) if page.status_code == 200 else None
    if token is None:
        phase.fail(f"form {page.status_code}")
        return
    done = browser.post(
        url,
        headers={"Referer": url},  # browsers send it (same-origin); CSRF checks it over HTTPS
        data={"csrf_token": token.group(1), "body": BODY.format(n=n)},
        timeout=30,
        verify=False,
        allow_redirects=False,
    )
    if done.status_code != 303:
        phase.fail(f"submit {done.status_code}")
        return
    with phase.lock:
        phase.submits.append(time.perf_counter() - started)
        phase.receipts += 1


def _client(phase: Phase, deadline: float, worker: int, seed: int) -> None:
    rng = random.Random(seed)
    reader = requests.Session()  # anonymous: never gets a cookie from notice pages
    n = 0
    while time.monotonic() < deadline:
        n += 1
        try:
            if rng.random() < READ_SHARE:
                _read(phase, reader)
            else:
                _submit(phase, f"{phase.name}-{worker}-{n}")
        except requests.RequestException as exc:
            phase.fail(f"{type(exc).__name__}")


def _watch_memory(phase: Phase, master: psutil.Process, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            rss = [p.memory_info().rss for p in master.children()]
        except psutil.NoSuchProcess:
            rss = []
        if rss:
            phase.rss_peak_mb = max(phase.rss_peak_mb, sum(rss) / 2**20)
            phase.rss_per_worker_mb = max(phase.rss_per_worker_mb, max(rss) / 2**20)
        stop.wait(0.5)


def run_phase(phase: Phase, seconds: float, threads: int, master: psutil.Process) -> None:
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_memory, args=(phase, master, stop))
    watcher.start()
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    pool = [
        threading.Thread(target=_client, args=(phase, deadline, i, hash((phase.name, i))))
        for i in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    phase.elapsed = time.monotonic() - started
    stop.set()
    watcher.join()


def _pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def summary(phase: Phase, stored: int) -> dict[str, float | int | str]:
    total = len(phase.reads) + len(phase.submits)
    return {
        "phase": phase.name,
        "seconds": round(phase.elapsed, 1),
        "ops_per_s": round(total / phase.elapsed, 1) if phase.elapsed else 0.0,
        # a submission is two HTTP requests (form GET + POST)
        "http_req_per_s": round((len(phase.reads) + 2 * len(phase.submits)) / phase.elapsed, 1),
        "reads": len(phase.reads),
        "read_p50_ms": round(_pct(phase.reads, 50), 1),
        "read_p95_ms": round(_pct(phase.reads, 95), 1),
        "submissions": len(phase.submits),
        "submit_p50_ms": round(_pct(phase.submits, 50), 1),
        "submit_p95_ms": round(_pct(phase.submits, 95), 1),
        "errors": len(phase.errors),
        "stored": stored,
        "lost": phase.receipts - stored,
        "workers_rss_peak_mb": round(phase.rss_peak_mb, 1),
        "worker_rss_max_mb": round(phase.rss_per_worker_mb, 1),
    }


def _print(row: dict[str, float | int | str]) -> None:
    print(
        f"{row['phase']:<9} {row['http_req_per_s']:7.1f} req/s  "
        f"read p50 {row['read_p50_ms']:6.1f} p95 {row['read_p95_ms']:6.1f} ms  "
        f"submit p50 {row['submit_p50_ms']:6.1f} p95 {row['submit_p95_ms']:6.1f} ms  "
        f"reads {row['reads']:6d} subs {row['submissions']:5d} errors {row['errors']:3d}  "
        f"stored {row['stored']} lost {row['lost']}  "
        f"RSS workers {row['workers_rss_peak_mb']} MB (max {row['worker_rss_max_mb']} MB)",
        flush=True,
    )


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def nginx_site(app_port: int, tmp: Path) -> Iterator[str]:
    """The shipped site file on loopback ports with a throw-away certificate; yields its URL."""
    tls_port, http_port = free_port(), free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=portal.example.gov.cn", "-keyout", str(tmp / "key.pem"),
         "-out", str(tmp / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp / "cache").mkdir()
    site = (ROOT / "deploy" / "nginx" / "portal.conf").read_text()
    for old, new in (
        ("/srv/portal", str(ROOT)),
        ("127.0.0.1:8000", f"127.0.0.1:{app_port}"),
        ("/var/cache/nginx/portal", str(tmp / "cache")),
        ("/var/www/letsencrypt", str(tmp)),
        ("/etc/ssl/portal/fullchain.pem", str(tmp / "cert.pem")),
        ("/etc/ssl/portal/privkey.pem", str(tmp / "key.pem")),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl", f"listen 127.0.0.1:{tls_port} ssl"),
        # The port is not 443 here: keep it in Host, or Flask-WTF's HTTPS referrer check fails.
        ("proxy_set_header Host $host;", "proxy_set_header Host $http_host;"),
    ):
        site = site.replace(old, new)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    (tmp / "portal.conf").write_text(site)
    user = "user root;" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"""{user}
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {tmp}/portal.conf;
}}
"""
    )
    nginx = ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]
    subprocess.run(nginx, check=True)
    base = f"https://127.0.0.1:{tls_port}"
    try:
        _wait_listening(tls_port)
        yield base
    finally:
        subprocess.run([*nginx, "-s", "stop"], check=False)


def _prepare(database_url: str, instance: Path) -> None:
    from portal import create_app
    from portal.extensions import db
    from portal.notices.service import import_notice

    create_schema(database_url, instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        import_notice(SEED.read_text(encoding="utf-8"), slug=SLUG, publish=True)
        db.session.commit()
        db.engine.dispose()


def _stored(database_url: str, phase: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.scalar(
            text("SELECT count(*) FROM submissions WHERE body LIKE :p"), {"p": f"%{phase}-%"}
        )
    engine.dispose()
    return int(count or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=45.0, help="per phase")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # a database of its own: stale counters only
    config = {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_ENABLED": True,
        # Raised: every simulated citizen comes from 127.0.0.1.
        "RATELIMIT_SUBMIT": "1000000/minute",
        "RATELIMIT_TRACK": "1000000/minute",
        "PREFERRED_URL_SCHEME": "http",
    }
    env = {"GUNICORN_ACCESSLOG": "/dev/null", "GUNICORN_LOGLEVEL": "warning"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        with fresh_pg_database(prefix="bench_load") as database_url:
            _prepare(database_url, tmp / "prep")
            with start_gunicorn(
                database_url,
                tmp / "app",
                workers=args.workers,
                config=config,
                env=env,
                extra_args=("--config", str(ROOT / "deploy" / "gunicorn.conf.py")),
            ) as server:
                master = psutil.Process(server.process.pid)
                port = int(server.url.rsplit(":", 1)[1])
                print(
                    f"gunicorn: {args.workers} sync workers; {args.threads} client threads; "
                    f"{int(READ_SHARE * 100)}% reads; {args.seconds:.0f} s per phase",
                    flush=True,
                )
                with nginx_site(port, tmp / "nginx") as nginx_url:
                    for name, base in (("nginx", nginx_url), ("gunicorn", server.url)):
                        phase = Phase(name, base)
                        run_phase(phase, args.seconds, args.threads, master)
                        row = summary(phase, _stored(database_url, name))
                        rows.append(row)
                        _print(row)
                        for message in sorted(set(phase.errors))[:5]:
                            print(f"          error: {message}")
    path = save("load", rows)
    print(f"saved {path.relative_to(ROOT)}")
    return 1 if any(row["lost"] or row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
