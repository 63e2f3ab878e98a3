"""Deployment artefacts: nginx + gunicorn for real (deploy/check.sh), systemd units, proxy trust."""

from __future__ import annotations

import configparser
import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.config import Defaults

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
CI = os.environ.get("CI", "").lower() == "true"


def _need(binary: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        if CI:
            pytest.fail(f"{binary} missing (make system-deps)", pytrace=False)
        pytest.skip(f"{binary} missing")
    return path


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNITS / name)
    return parser


@pytest.mark.slow
def test_check_script_serves_pages_through_nginx() -> None:
    _need("nginx")
    _need("curl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    result = subprocess.run(
        [str(DEPLOY / "check.sh")], capture_output=True, text=True, timeout=180, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    for check in ("notice page through nginx", "micro-cache: second read is a HIT", "304"):
        assert check in result.stdout


def test_systemd_units_verify(tmp_path: Path) -> None:
    """systemd-analyze verify on the units, pointed at this checkout instead of /srv/portal."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if CI:
            pytest.fail("systemd-analyze missing", pytrace=False)
        pytest.skip("systemd-analyze missing (the parsing tests below still run)")
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/srv/portal/", f"{ROOT}/")
        text = text.replace("User=portal", "User=root").replace("Group=portal", "Group=root")
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize(
    ("unit", "command"),
    [
        ("portal-web.service", "gunicorn -c /srv/portal/deploy/gunicorn.conf.py wsgi:app"),
        ("portal-mail-fetch.service", "flask mail fetch --loop"),
        ("portal-outbox.service", "flask outbox send --loop"),
        ("portal-digest.service", "flask triage digest"),
        ("portal-purge.service", "flask submissions purge"),
    ],
)
def test_each_unit_runs_its_command(unit: str, command: str) -> None:
    service = _unit(unit)["Service"]
    assert command in service["ExecStart"]
    assert service["User"] == "portal"
    assert service["ProtectSystem"] == "strict"
    assert "/srv/portal/instance" in (UNITS / unit).read_text()


@pytest.mark.parametrize(
    ("timer", "service", "at"),
    [
        ("portal-digest.timer", "portal-digest.service", "08:00:00"),
        ("portal-purge.timer", "portal-purge.service", "03:30:00"),
    ],
)
def test_timers_run_daily_in_beijing_time(timer: str, service: str, at: str) -> None:
    section = _unit(timer)["Timer"]
    assert section["Unit"] == service and (UNITS / service).exists()
    assert section["Persistent"] == "true"
    assert section["OnCalendar"] == f"*-*-* {at} Asia/Shanghai"
    assert _unit(service)["Service"]["Type"] == "oneshot"
    analyze = shutil.which("systemd-analyze")
    if analyze:
        shown = subprocess.run(
            [analyze, "calendar", section["OnCalendar"]], capture_output=True, text=True, timeout=30
        )
        assert shown.returncode == 0, shown.stderr
        assert f"{at} Asia/Shanghai" in shown.stdout


def test_nginx_upload_cap_matches_the_app() -> None:
    conf = (DEPLOY / "nginx" / "portal.conf").read_text()
    match = re.search(r"client_max_body_size\s+(\d+)m;", conf)
    assert match, "client_max_body_size missing"
    assert int(match.group(1)) * 1024 * 1024 == Defaults.MAX_CONTENT_LENGTH


def _conf() -> dict[str, Any]:
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def _remote_addr_seen(wrapped: Any, peer: str, forwarded: str | None) -> tuple[str, str]:
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http"}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
        environ["HTTP_X_FORWARDED_PROTO"] = "https"
    return wrapped(environ, lambda *a: None)


def _echo(environ: dict[str, Any], start_response: Any) -> tuple[str, str]:
    return environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]


def test_forwarded_for_is_believed_from_nginx_on_loopback() -> None:
    wrapped = _conf()["trust_proxy"](_echo, "127.0.0.1,::1")
    assert _remote_addr_seen(wrapped, "127.0.0.1", "203.0.113.7") == ("203.0.113.7", "https")
    assert _remote_addr_seen(wrapped, "::1", "2001:db8::5") == ("2001:db8::5", "https")
    assert _remote_addr_seen(wrapped, "127.0.0.1", None) == ("127.0.0.1", "http")


@settings(max_examples=60, deadline=None)
@given(
    peer=st.ip_addresses().map(str).filter(lambda ip: ip not in ("127.0.0.1", "::1")),
    forwarded=st.text(max_size=80),
)
def test_forwarded_for_from_anyone_else_is_ignored(peer: str, forwarded: str) -> None:
    wrapped = _conf()["trust_proxy"](_echo, "127.0.0.1,::1")
    assert _remote_addr_seen(wrapped, peer, forwarded) == (peer, "http")
