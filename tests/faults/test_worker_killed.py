"""A gunicorn worker killed with SIGKILL while it reads a slow upload: that client gets an error,
nothing half-recorded stays behind, and the other workers keep serving meanwhile."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WORKERS = 3


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _worker_serving(master: psutil.Process, client_port: int) -> psutil.Process:
    """The worker whose accepted socket is our connection."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for child in master.children():
            try:
                for conn in child.net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == client_port:
                        return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    raise AssertionError("no worker holds our connection")


def _answer_after_kill(sock: socket.socket, rest: bytes) -> bytes:
    """Whatever the server says after the kill (b'' when the connection just dies)."""
    sock.settimeout(10)
    try:
        sock.sendall(rest)
        return sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError, TimeoutError):
        return b""


def test_sigkill_mid_upload(
    database_url: str, published_notice: str, gunicorn_server: Any, tmp_path: Path
) -> None:
    server = gunicorn_server(database_url, workers=WORKERS, config={"RATELIMIT_ENABLED": False})
    form_url = f"{server.url}/notices/{published_notice}/feedback"
    browser = requests.Session()
    token = CSRF_RE.search(browser.get(form_url, timeout=10).text).group(1)
    marker = f"断电测试{uuid.uuid4().hex[:8]}"
    body, content_type = _multipart(
        {"csrf_token": token, "body": f"{marker}：上传到一半时进程被杀死的意见。"},
        "evidence.txt",
        ("整改材料" * 50_000).encode(),  # 600 kB, sent in two halves
    )
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST /notices/{published_notice}/feedback HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    master = psutil.Process(server.process.pid)
    before = {p.pid for p in master.children()}
    assert len(before) == WORKERS

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        victim = _worker_serving(master, sock.getsockname()[1])
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        # The others serve while the victim is dead (and before the master replaces it).
        served = [requests.get(server.url + "/healthz", timeout=5).status_code for _ in range(10)]
        answer = _answer_after_kill(sock, body[len(body) // 2 :])

    assert not answer.startswith(b"HTTP/1.1 303"), "a killed worker cannot have recorded it"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert served == [200] * 10
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.scalar(
            text("SELECT count(*) FROM submissions WHERE body LIKE :m"), {"m": f"%{marker}%"}
        )
    engine.dispose()
    assert rows == 0, "a half-received submission was recorded"
    uploads = server.instance_path / "uploads"
    leftovers = [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
    assert leftovers == [], leftovers

    deadline = time.monotonic() + 15
    while len(master.children()) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(master.children()) == WORKERS, "the master did not replace the killed worker"
    assert victim.pid not in {p.pid for p in master.children()}
    ok = requests.Session()
    page = ok.get(form_url, timeout=10)
    token = CSRF_RE.search(page.text).group(1)
    done = ok.post(form_url, data={"csrf_token": token, "body": "杀进程之后的正常提交，应当成功。"})
    assert done.status_code == 200 and "receipt-code" in done.text
