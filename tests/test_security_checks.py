"""Security checks that run with `make test`: bandit finds nothing of high severity in portal/.

pip-audit needs PyPI's advisory service and stays in `make audit` (see deploy/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bandit_finds_no_high_severity_issue() -> None:
    bandit = Path(sys.executable).parent / "bandit"
    result = subprocess.run(
        [str(bandit), "-q", "-r", "portal", "-lll", "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    high = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in report["results"]
        if r["issue_severity"] == "HIGH"
    ]
    assert high == []
    assert report["metrics"]["_totals"]["loc"] > 1000, "bandit did not scan the code"
    assert result.returncode == 0, result.stderr[-2000:]
