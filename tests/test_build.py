"""The build itself: hashed lock files, the type checker in lint, the database tiers CI may not
drop, a dependency audit that says when it audited nothing, and a system-deps script that never
stops or kills a process it did not start.

Nothing here needs a database or the network: the scripts run against fake tools in tmp_path.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import tomllib
from pathlib import Path

import pytest

from tests.conftest import DatabaseSelectionError, _database_kinds

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_DEPS = ROOT / "scripts" / "system-deps.sh"
AUDIT = ROOT / "scripts" / "audit.sh"
BASH = shutil.which("bash") or "/bin/bash"


# --- database tiers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "kinds"),
    [
        ({}, ["sqlite"]),
        ({"PORTAL_TEST_DATABASES": "sqlite"}, ["sqlite"]),
        ({"PORTAL_TEST_DATABASES": " sqlite , "}, ["sqlite"]),
        ({"CI": "false", "PORTAL_TEST_DATABASES": "sqlite"}, ["sqlite"]),
        ({"PORTAL_TEST_DATABASES": "postgresql"}, ["postgresql"]),
        ({"PORTAL_TEST_DATABASE_URL": "postgresql://h/db"}, ["sqlite", "postgresql"]),
        ({"PORTAL_TEST_DATABASES": ""}, ["sqlite"]),
        ({"CI": "true"}, ["sqlite", "postgresql"]),
        ({"CI": "true", "PORTAL_TEST_DATABASES": "sqlite,postgresql"}, ["sqlite", "postgresql"]),
        ({"CI": "true", "PORTAL_TEST_DATABASES": "postgresql"}, ["postgresql"]),
        ({"CI": "true", "PORTAL_TEST_DATABASES": ""}, ["sqlite", "postgresql"]),
    ],
)
def test_database_kinds_allowed(env, kinds):
    assert _database_kinds(env) == kinds


@pytest.mark.parametrize(
    "env",
    [
        {"CI": "true", "PORTAL_TEST_DATABASES": "sqlite"},
        {"CI": "TRUE", "PORTAL_TEST_DATABASES": "sqlite"},
        {
            "CI": "true",
            "PORTAL_TEST_DATABASES": "sqlite",
            "PORTAL_TEST_DATABASE_URL": "postgresql://h/db",
        },
    ],
)
def test_ci_cannot_drop_the_postgresql_tier(env):
    with pytest.raises(DatabaseSelectionError, match=r"CI=true.*leaves out postgresql"):
        _database_kinds(env)


@pytest.mark.parametrize("wanted", ["postgres", "sqlite,mysql", ","])
def test_unknown_or_empty_database_kinds_are_refused(wanted):
    with pytest.raises(DatabaseSelectionError, match="comma-separated list of sqlite"):
        _database_kinds({"PORTAL_TEST_DATABASES": wanted})


def test_database_kinds_does_not_read_os_environ(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PORTAL_TEST_DATABASES", "sqlite")
    assert _database_kinds({}) == ["sqlite"]


@pytest.mark.slow
def test_a_ci_run_without_postgresql_stops_before_collecting():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_TEST_", "PYTEST_"))}
    env |= {"CI": "true", "PORTAL_TEST_DATABASES": "sqlite"}
    here = str(Path(__file__).relative_to(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", here],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert "leaves out postgresql" in proc.stderr


def test_ci_script_refuses_to_narrow_the_databases():
    text = (ROOT / ".ci" / "run").read_text()
    assert "PORTAL_TEST_DATABASES" in text
    assert "export CI=true" in text


# --- lock files ------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins |= _top_level_pins(path.parent / line[3:].strip())
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", line)
        assert m, f"{path.name}: not an exact pin: {raw!r}"
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def _lock_entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) for every requirement of a pip-compile lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(.*)", line)
        if m:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", m.group(3))
            entries[_norm(m.group(1))] = (m.group(2), hashes)
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"{path.name}: unexpected line {line!r}")
    return entries


@pytest.mark.parametrize(
    ("source", "lock"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_every_top_level_pin_is_locked_at_its_version(source, lock):
    locked = _lock_entries(ROOT / lock)
    for name, version in _top_level_pins(ROOT / source).items():
        assert name in locked, f"{name} is in {source} but not in {lock}: run `make lock`"
        assert locked[name][0] == version, (
            f"{name}: {source} says {version}, {lock} says {locked[name][0]}: run `make lock`"
        )


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_requirement_has_a_hash(lock):
    entries = _lock_entries(ROOT / lock)
    assert entries
    assert [name for name, (_, hashes) in entries.items() if not hashes] == []


def test_dev_lock_has_the_runtime_lock_at_the_same_versions():
    runtime = _lock_entries(ROOT / "requirements.lock")
    dev = _lock_entries(ROOT / "requirements-dev.lock")
    assert {n: v for n, (v, _) in runtime.items() if dev.get(n, ("",))[0] != v} == {}


def test_locks_name_no_machine_specific_index():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        assert not re.search(r"^--(extra-)?index-url|^--find-links|file://", text, re.M), lock


def test_bleach_is_not_required():
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert "bleach" not in _top_level_pins(ROOT / name)
    for name in ("requirements.lock", "requirements-dev.lock"):
        assert "bleach" not in _lock_entries(ROOT / name)


def _make_rule(target: str) -> tuple[str, list[str]]:
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n)*)", text, re.M)
    assert m, f"no Makefile rule for {target}"
    return m.group(1), [line.strip() for line in m.group(2).splitlines()]


def test_make_installs_only_from_the_hashed_dev_lock():
    prerequisites, recipe = _make_rule("$(BIN)/.installed")
    assert "requirements.lock" in prerequisites.split()
    assert "requirements-dev.lock" in prerequisites.split()
    installs = [line for line in recipe if " install " in line and "pip" in line]
    assert installs == ["$(BIN)/pip install -q --require-hashes -r requirements-dev.lock"]
    assert not [line for line in recipe if "--upgrade" in line or " -U " in line]


def test_make_lock_regenerates_both_locks_outside_the_venv():
    make = shutil.which("make")
    assert make, "make runs the build"
    script = subprocess.run(
        [make, "-n", "lock"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert "pip-compile" in script and "--generate-hashes" in script
    assert "requirements.lock" in script and "requirements-dev.lock" in script
    assert "$(BIN)" not in script and ".venv" not in script


def test_lint_runs_ruff_and_mypy():
    _, recipe = _make_rule("lint")
    assert "$(BIN)/ruff check ." in recipe
    assert "$(BIN)/ruff format --check ." in recipe
    assert "$(BIN)/mypy" in recipe


def test_mypy_is_a_dev_requirement_and_configured():
    assert "mypy" in _top_level_pins(ROOT / "requirements-dev.txt")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["portal"]
    ignored = {m for o in config.get("overrides", []) for m in o["module"]}
    assert "flask_login.*" in ignored


# --- scripts/system-deps.sh ------------------------------------------------------------------

KILLERS = ("pkill", "killall", "systemctl", "service", "invoke-rc.d", "start-stop-daemon", "kill")


def test_system_deps_script_stops_and_kills_nothing_statically():
    code = [
        line.split("#", 1)[0] for line in SYSTEM_DEPS.read_text().splitlines()[1:] if line.strip()
    ]
    text = "\n".join(code)
    assert not re.search(r"\b(pkill|killall|kill)\b", text)
    assert not re.search(r"\bsystemctl\b.*\b(stop|disable|kill|mask)\b", text)
    assert not re.search(r"\bservice\b\s+\S+\s+stop", text)


def _fake(bindir: Path, name: str, body: str) -> None:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip())
    path.chmod(0o755)


def _real(bindir: Path, name: str) -> None:
    found = shutil.which(name)
    assert found, f"{name} is needed to run the script under test"
    (bindir / name).symlink_to(found)


@pytest.fixture
def fake_system(tmp_path):
    """An empty / (nothing installed) and a PATH with only fakes and the few real tools the
    script uses on its own files (grep, tee, chmod, rm, env). Every fake appends its command
    line to calls.log; apt-get plays dpkg's part and asks policy-rc.d, as invoke-rc.d does,
    whether it may start the daemons it installs."""
    root = tmp_path / "root"
    (root / "usr" / "sbin").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    for tool in ("grep", "tee", "chmod", "rm", "env"):
        _real(bindir, tool)
    _fake(bindir, "id", 'echo "id $*" >> "$FAKE_LOG"; echo "${FAKE_UID:-0}"\n')
    _fake(bindir, "ldconfig", 'echo "ldconfig $*" >> "$FAKE_LOG"\n')
    _fake(bindir, "sudo", 'echo "sudo $*" >> "$FAKE_LOG"; exec "$@"\n')
    _fake(
        bindir,
        "apt-get",
        """
        echo "apt-get $* DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-}" >> "$FAKE_LOG"
        [ "$1" = install ] || exit 0
        policy="$SYSTEM_DEPS_ROOT/usr/sbin/policy-rc.d"
        for svc in dovecot nginx; do
          if [ -x "$policy" ]; then "$policy" "$svc" start; rc=$?; else rc=0; fi
          echo "invoke-rc.d $svc start: policy-rc.d says $rc" >> "$FAKE_LOG"
          [ "$rc" = 101 ] || echo "DAEMON STARTED $svc" >> "$FAKE_LOG"
        done
        exit "${FAKE_APT_EXIT:-0}"
        """,
    )
    for killer in KILLERS:
        _fake(bindir, killer, f'echo "KILLER {killer} $*" >> "$FAKE_LOG"\n')

    def run(*, uid: int = 0, apt_exit: int = 0, ci: bool = False):
        env = {
            "PATH": str(bindir),
            "SYSTEM_DEPS_ROOT": str(root),
            "FAKE_LOG": str(log),
            "FAKE_UID": str(uid),
            "FAKE_APT_EXIT": str(apt_exit),
            "LC_ALL": "C",
        }
        if ci:
            env["CI"] = "true"
        proc = subprocess.run(
            [BASH, str(SYSTEM_DEPS)], env=env, capture_output=True, text=True, timeout=60
        )
        return proc, log.read_text().splitlines()

    run.root = root
    run.bindir = bindir
    run.policy = root / "usr" / "sbin" / "policy-rc.d"
    return run


ALL_PACKAGES = (
    "chromium dovecot-imapd nginx-light wrk fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 systemd"
)


@pytest.mark.parametrize("uid", [0, 1000])
def test_system_deps_installs_without_starting_or_killing_daemons(fake_system, uid):
    proc, calls = fake_system(uid=uid)
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c.startswith("KILLER")], calls
    assert not [c for c in calls if c.startswith("DAEMON STARTED")], calls
    assert f"apt-get install -y -qq {ALL_PACKAGES} DEBIAN_FRONTEND=noninteractive" in calls
    assert "invoke-rc.d nginx start: policy-rc.d says 101" in calls
    assert "invoke-rc.d dovecot start: policy-rc.d says 101" in calls
    assert not fake_system.policy.exists(), "the temporary policy-rc.d was left behind"
    assert any(c.startswith("sudo ") for c in calls) == (uid != 0)


def test_system_deps_removes_its_policy_when_the_install_fails(fake_system):
    proc, calls = fake_system(apt_exit=100, ci=True)
    assert proc.returncode == 1
    assert "could not install" in proc.stderr
    assert not fake_system.policy.exists()
    assert not [c for c in calls if c.startswith(("KILLER", "DAEMON STARTED"))], calls

    proc, _ = fake_system(apt_exit=100, ci=False)
    assert proc.returncode == 0
    assert not fake_system.policy.exists()


def test_system_deps_keeps_an_existing_policy(fake_system):
    admin_policy = "#!/bin/sh\n# the administrator's\nexit 101\n"
    fake_system.policy.write_text(admin_policy)
    fake_system.policy.chmod(0o755)
    proc, calls = fake_system()
    assert proc.returncode == 0, proc.stderr
    assert fake_system.policy.read_text() == admin_policy
    assert "invoke-rc.d nginx start: policy-rc.d says 101" in calls
    assert not [c for c in calls if c.startswith("KILLER")], calls


def test_system_deps_does_nothing_when_everything_is_there(fake_system):
    root, bindir = fake_system.root, fake_system.bindir
    for daemon in ("dovecot", "nginx"):
        (root / "usr" / "sbin" / daemon).write_text("")
        (root / "usr" / "sbin" / daemon).chmod(0o755)
    (root / "usr" / "share" / "fonts" / "opentype" / "noto").mkdir(parents=True)
    for tool in ("chromium", "wrk", "systemd-analyze"):
        _fake(bindir, tool, "exit 0\n")
    _fake(bindir, "ldconfig", 'echo "libpangoft2-1.0.so.0 (libc6,x86-64) => /usr/lib/x"\n')
    proc, calls = fake_system()
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c.startswith(("apt-get", "sudo", "KILLER"))], calls
    assert not fake_system.policy.exists()


# --- scripts/audit.sh ------------------------------------------------------------------------

FAKE_PIP_AUDIT = """\
import json, os, sys

args = sys.argv[1:]
service = args[args.index("--vulnerability-service") + 1]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write("pip-audit " + " ".join(args) + "\\n")
mode = os.environ["FAKE_AUDIT_" + service.upper()]
if mode == "unreachable":
    sys.exit("requests.exceptions.ConnectionError: Max retries exceeded (NameResolutionError)")
deps = []
for name in ("flask", "jinja2"):
    if mode == "skipped" or (mode == "partial" and name == "jinja2"):
        deps.append({"name": name, "skip_reason": "Dependency not found on PyPI"})
    elif mode == "vulnerable" and name == "jinja2":
        deps.append({"name": name, "version": "1", "vulns": [{"id": "GHSA-x", "fix_versions": []}]})
    else:
        deps.append({"name": name, "version": "1", "vulns": []})
with open(args[args.index("--output") + 1], "w") as out:
    json.dump({"dependencies": deps, "fixes": []}, out)
sys.exit(1 if mode == "vulnerable" else 0)
"""


class _AnyQuery(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def osv_up():
    """A loopback stand-in for OSV's query endpoint: the audit's reachability probe succeeds."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AnyQuery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()
    server.server_close()


@pytest.fixture
def osv_down():
    """A loopback address nothing listens on: the probe's connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/query"


@pytest.fixture
def fake_audit(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    log.touch()
    (bindir / "python").symlink_to(sys.executable)
    _fake(bindir, "bandit", "exit 0\n")
    (bindir / "pip-audit").write_text(f"#!{sys.executable}\n{FAKE_PIP_AUDIT}")
    (bindir / "pip-audit").chmod(0o755)

    def run(pypi: str, osv: str, osv_url: str, require: bool = False):
        env = dict(os.environ) | {
            "BIN": str(bindir),
            "FAKE_LOG": str(log),
            "FAKE_AUDIT_PYPI": pypi,
            "FAKE_AUDIT_OSV": osv,
            "PORTAL_OSV_URL": osv_url,
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
        env.pop("PORTAL_AUDIT_LOCK", None)
        env.pop("PORTAL_REQUIRE_PIP_AUDIT", None)
        if require:
            env["PORTAL_REQUIRE_PIP_AUDIT"] = "1"
        log.write_text("")
        proc = subprocess.run(
            [BASH, str(AUDIT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        return proc, log.read_text().splitlines()

    return run


def test_audit_says_plainly_when_no_advisory_database_answers(fake_audit, osv_down, osv_up):
    proc, calls = fake_audit("skipped", "unreachable", osv_down)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DEPENDENCY AUDIT NOT PERFORMED" in proc.stderr
    assert "pip-audit (osv): service unreachable" in proc.stderr
    assert "no known vulnerabilit" not in proc.stdout
    assert len(calls) == 1, "an unreachable OSV costs no pip-audit run"
    assert " -r requirements.lock --require-hashes " in f" {calls[0]} "

    # OSV answers the probe but pip-audit still cannot get through.
    proc, calls = fake_audit("skipped", "unreachable", osv_up)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DEPENDENCY AUDIT NOT PERFORMED" in proc.stderr
    assert len(calls) == 2

    proc, _ = fake_audit("skipped", "unreachable", osv_down, require=True)
    assert proc.returncode == 1
    assert "DEPENDENCY AUDIT NOT PERFORMED" in proc.stderr


def test_audit_fails_on_a_known_vulnerability(fake_audit, osv_down):
    proc, _ = fake_audit("vulnerable", "unreachable", osv_down)
    assert proc.returncode == 1
    assert "VULNERABLE jinja2 1: GHSA-x" in proc.stderr


def test_audit_passes_a_clean_lock(fake_audit, osv_down):
    proc, calls = fake_audit("clean", "unreachable", osv_down)
    assert proc.returncode == 0, proc.stderr
    assert "pip-audit (pypi): no known vulnerability in the 2 packages of requirements.lock" in (
        proc.stdout
    )
    assert len(calls) == 1


def test_audit_falls_back_to_osv_and_names_what_it_skipped(fake_audit, osv_up):
    proc, _ = fake_audit("unreachable", "clean", osv_up)
    assert proc.returncode == 0, proc.stderr
    assert "pip-audit (osv): no known vulnerability in the 2 packages" in proc.stdout

    proc, _ = fake_audit("partial", "clean", osv_up)
    assert proc.returncode == 0, proc.stderr
    assert "DEPENDENCY AUDIT INCOMPLETE" in proc.stderr
    assert "NOT AUDITED jinja2" in proc.stderr
