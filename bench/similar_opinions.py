"""Similar opinions: accuracy on labelled pairs, and the detail panel's time at queue scale.

    python bench/similar_opinions.py [--n 10000] [--skip-timing]

Accuracy: tests/data/similar_pairs.jsonl holds pairs of opinions labelled similar (the same
matter: copies, templates, rewordings) or not (hard negatives: the same finding about another
place or body, the same place about another matter, the same matter months apart, unrelated).
The "dev" split was used to choose the rules and threshold of portal/triage/duplicates.py; the
"test" split was written apart and never tuned on. Prints precision and recall for both.

Timing: a SQLite database with N opinions in one office and notice (texts from the dev seed's
generator, half naming a place; received over --days, a year by default: a few hundred a
week), then p50/p95 of
``find_near_duplicates`` for 50 opinions, cold (first call in the process: every candidate's
features computed) and warm (the per-process feature cache filled, as on a busy server).
Figures go to stdout and bench/results/similar_opinions.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from portal.triage import duplicates  # noqa: E402

PAIRS = ROOT / "tests" / "data" / "similar_pairs.jsonl"
RESULTS = ROOT / "bench" / "results"


def load_pairs(split: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if split is None or r["split"] == split]


def predict(pair: dict[str, Any], threshold: float = duplicates.NEAR_DUPLICATE) -> bool:
    a, b = duplicates.matter_of(pair["a"]), duplicates.matter_of(pair["b"])
    score, _copy = duplicates.compare(a, b, timedelta(minutes=pair["minutes_apart"]))
    return score >= threshold


def accuracy(split: str) -> dict[str, Any]:
    """Precision and recall of the similar label on one split, and the pairs it gets wrong."""
    pairs = load_pairs(split)
    tp = fp = fn = 0
    wrong = []
    for pair in pairs:
        said = predict(pair)
        tp += said and pair["similar"]
        fp += said and not pair["similar"]
        fn += (not said) and pair["similar"]
        if said != pair["similar"]:
            wrong.append({"kind": pair["kind"], "a": pair["a"], "b": pair["b"], "said": said})
    return {
        "split": split,
        "pairs": len(pairs),
        "similar": sum(p["similar"] for p in pairs),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "wrong": wrong,
    }


def timing(n: int, days: int = 365) -> dict[str, Any]:
    """p50/p95 of the panel's query over N opinions of one office (SQLite, temporary)."""
    from portal import create_app
    from portal.devtools.generator import body_text
    from portal.extensions import db
    from portal.notices.models import Notice

    folder = tempfile.mkdtemp(prefix="similar-bench-")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "INSTANCE_PATH": folder,
        }
    )
    rng = random.Random(15)
    with app.app_context():
        db.create_all()
        ids = _seed(app, n, days, rng, body_text)
        probes = rng.sample(ids, 50)
        out: dict[str, Any] = {"n": n, "days": days}
        for label in ("cold", "warm"):
            if label == "cold":
                _clear()
            else:  # one pass fills the cache, as serving pages does
                for sid in probes:
                    duplicates.find_near_duplicates(_get(sid))
            times = []
            for sid in probes:
                submission = _get(sid)
                start = time.perf_counter()
                duplicates.find_near_duplicates(submission)
                times.append((time.perf_counter() - start) * 1000)
                if label == "cold":
                    _clear()
            times.sort()
            out[label] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            }
        _ = Notice  # the seeded notice is the only one
    return out


PLACES = [f"{a}{b}{kind}" for a in "东南西北中新" for b in "城山湖江华安" for kind in "路街村"]


def _body(rng: random.Random, body_text: Any) -> str:
    """A generated comment; half of them name a place, as citizens often do."""
    text = str(body_text(rng)[0])
    return f"{rng.choice(PLACES)}这边，{text}" if rng.random() < 0.5 else text


def _get(sid: int) -> Any:
    from portal.extensions import db
    from portal.intake.models import Submission

    submission = db.session.get(Submission, sid)
    assert submission is not None
    return submission


def _clear() -> None:
    from portal.triage.normalise import normalise

    normalise.cache_clear()
    duplicates.matter_of.cache_clear()
    duplicates.concepts_in.cache_clear()


def _seed(app: Any, n: int, days: int, rng: random.Random, body_text: Any) -> list[int]:
    """N submissions of the default office's seed notice, spread over ``days``."""
    from sqlalchemy import insert, select

    from portal.devtools.generator import code_for
    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.notices.service import import_notice
    from portal.offices.service import default_office
    from portal.workdays import utcnow

    seed = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"
    text = seed.read_text(encoding="utf-8")
    notice = import_notice(text, slug="bench", publish=True).notice
    office = default_office()
    db.session.commit()
    now = utcnow()
    rows = [
        {
            "code": code_for(i + 1),
            "secret_hash": "x",
            "channel": "web",
            "status": "received",
            "body": _body(rng, body_text),
            "notice_id": notice.id,
            "office_id": office.id if office else None,
            "received_at": now - timedelta(minutes=rng.randrange(days * 24 * 60)),
            "late": False,
            "anonymous": True,
        }
        for i in range(n)
    ]
    db.session.execute(insert(Submission), rows)
    db.session.commit()
    return list(db.session.scalars(select(Submission.id)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="received over this many days")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the warm calls")
    args = parser.parse_args()
    results: dict[str, Any] = {"accuracy": [accuracy("dev"), accuracy("test")]}
    for figures in results["accuracy"]:
        print(
            f"{figures['split']:>4}: {figures['pairs']} pairs ({figures['similar']} similar)  "
            f"precision {figures['precision']:.2f}  recall {figures['recall']:.2f}"
        )
        # Only the dev split's mistakes are shown: the test split is never looked into.
        for miss in figures["wrong"] if figures["split"] == "dev" else ():
            print(f"      wrong ({miss['kind']}): {miss['a']} | {miss['b']}")
    if not args.skip_timing:
        results["timing"] = timing(args.n, args.days)
        t = results["timing"]
        print(
            f"panel over {t['n']} opinions in {t['days']} days: cold p50 {t['cold']['p50_ms']} ms "
            f"p95 {t['cold']['p95_ms']} ms; warm p50 {t['warm']['p50_ms']} ms "
            f"p95 {t['warm']['p95_ms']} ms"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "similar_opinions.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    os.environ.pop("_", None)


if __name__ == "__main__":
    main()
