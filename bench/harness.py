"""Shared benchmark plumbing: start gunicorn / nginx on loopback ports, run wrk, parse it.

Everything binds to 127.0.0.1 and stops by itself; load never leaves this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # up, even if this path is a 404
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@contextlib.contextmanager
def gunicorn(
    app_spec: str,
    *,
    env: dict[str, str] | None = None,
    workers: int | None = None,
    health_path: str = "/healthz",
) -> Iterator[str]:
    """Run `gunicorn app_spec` on a free loopback port; yields the base URL."""
    port = free_port()
    workers = workers or (os.cpu_count() or 1) * 2
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
        "--chdir",
        str(ROOT),
        app_spec,
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + health_path)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


NGINX_CONF = """
{user}
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type text/html;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ try_files $uri $uri.html =404; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_static(root: Path) -> Iterator[str]:
    """nginx (Debian package) serving files from root on a free loopback port."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx missing: run `make system-deps`")
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    conf = tmp / "nginx.conf"
    workers = os.cpu_count() or 1
    # As root, nginx workers would drop to nobody and could not read our private temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, workers=workers, tmp=tmp, port=port, root=root))
    subprocess.run([binary, "-c", str(conf), "-p", str(tmp)], check=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/")
        yield base
    finally:
        subprocess.run([binary, "-c", str(conf), "-p", str(tmp), "-s", "stop"], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class WrkResult:
    label: str
    url: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", value)
    if match is None:  # wrk prints "-nan" when nothing completed
        return float("nan")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    label: str,
    url: str,
    *,
    seconds: int = 10,
    connections: int = 32,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    binary = shutil.which("wrk")
    if not binary:
        raise RuntimeError("wrk missing: run `make system-deps`")
    cmd = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for key, value in (headers or {}).items():
        cmd[1:1] = ["-H", f"{key}: {value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        label,
        url,
        rps,
        p50,
        p99,
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
    )


def save(name: str, payload: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=asdict))
    return path
