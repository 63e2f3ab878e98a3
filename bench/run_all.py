"""`make bench`: every benchmark under bench/, one after another, each printing its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Order: cheap first. Each script is self-contained and bounded in time.
SCRIPTS = [
    "parsers.py",
    "notice_page.py",
    "routing_accuracy.py",
    "similar_opinions.py",
    "mail_classes.py",
    "mail_ingest.py",
    "intake_submit.py",
    "triage_queue.py",
    "load.py",
    "ledger_export.py",  # 1 M rows by default: tens of minutes
    "offices_scale.py",  # seeds 10 M submissions first: hours on a small machine
]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        script = HERE / name
        if not script.exists():
            print(f"== {name}: not present, skipped")
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
