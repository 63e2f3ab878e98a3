"""Fault tests: real servers broken on purpose. Each is bounded in time and marked ``faults``.

A fault test that cannot set itself up (not root, no pg_ctlcluster, no mount) skips on a
developer machine but FAILS with CI=true: a fault that was never injected proves nothing.
"""

from __future__ import annotations

import os

import pytest

CI = os.environ.get("CI", "").lower() == "true"


def cannot_set_up(reason: str) -> None:
    """Skip locally, fail in CI."""
    if CI:
        pytest.fail(f"fault test cannot set up: {reason}", pytrace=False)
    pytest.skip(reason)


def need_root(what: str) -> None:
    if os.geteuid() != 0:
        cannot_set_up(f"{what} needs root")
