"""Issue #16's mail classes: how many generated messages of each class a careful clerk would
accept as handled (right sender, subject, text and file names; recorded, not quarantined).

Run: .venv/bin/python bench/mail_classes.py [--code DIR]
``--code`` points at another checkout's root (with portal/ and templates/) to measure it on the
same messages, e.g. the code before the fixes: ``git archive HEAD portal templates | tar -x -C
/tmp/old`` then ``--code /tmp/old``. Held-out messages (heldout-*) are counted separately.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "mail"
SEED = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"


def judge(code_root: Path) -> dict[str, list[tuple[str, bool, str]]]:
    sys.path.insert(0, str(code_root))
    from sqlalchemy import select

    from portal import create_app
    from portal.extensions import db
    from portal.intake.mail.ingest import ingest
    from portal.intake.models import Submission
    from portal.notices.service import import_notice

    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    results: dict[str, list[tuple[str, bool, str]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="mail-classes-") as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/c.db",
                "INSTANCE_PATH": folder,
                "SECRET_KEY": "classes",
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            db.create_all()
            import_notice(SEED.read_text(encoding="utf-8"), slug="c", publish=True)
            db.session.commit()
            for name, want in sorted(expected.items()):
                if "mail_class" not in want:
                    continue
                outcome = ingest((CORPUS / name).read_bytes())
                why = ""
                if outcome.kind != "recorded":
                    why = outcome.line()
                else:
                    sub = db.session.scalar(
                        select(Submission).where(Submission.code == outcome.code)
                    )
                    assert sub is not None
                    details = sub.channel_details or {}
                    names = [a.filename for a in sub.attachments] + [
                        r["filename"] for r in details.get("refused_attachments", [])
                    ]
                    checks = {
                        "sender": sub.sender_email == want["sender"],
                        "subject": sub.subject == want["subject"],
                        "text": all(t in sub.body for t in want["text_contains"])
                        and not any(t in sub.body for t in want.get("text_absent", []))
                        and "\ufffd" not in sub.body,
                        "files": sorted(names) == sorted(want["attachments"]),
                        "html": all(
                            h in (sub.body_html or "") for h in want.get("html_contains", [])
                        ),
                    }
                    why = ", ".join(k for k, ok in checks.items() if not ok)
                split = "held-out" if name.startswith("heldout-") else "tuned"
                results[f"class {want['mail_class']} ({split})"].append((name, not why, why))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", type=Path, default=ROOT)
    args = parser.parse_args()
    results = judge(args.code.resolve())
    total = right = 0
    for key in sorted(results, key=lambda k: (re.sub(r"\D", "", k), k)):
        rows = results[key]
        ok = sum(1 for _n, good, _w in rows if good)
        total, right = total + len(rows), right + ok
        print(f"{key}: {ok}/{len(rows)}")
        for name, good, why in rows:
            if not good:
                print(f"    {name}: {why}")
    print(f"all: {right}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
