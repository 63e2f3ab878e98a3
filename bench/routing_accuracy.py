"""Accuracy and speed of the finding-suggestion engine on the seed notice.

Run: .venv/bin/python bench/routing_accuracy.py [--threshold T] [--sweep]
Prints, for the dev and held-out sets: top-1 / top-3 accuracy per kind, out-of-scope
precision and recall, build time and mean suggest() time. The Router is built cold
(no learned examples).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portal.triage.routing import DEFAULT_THRESHOLD, FindingDoc, Router  # noqa: E402

NOTICE_CANDIDATES = (
    ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt",
    Path("/work/shared/notices/dongguan-procuratorate-2024-02-02.txt"),
)
DEV = ROOT / "tests" / "data" / "routing_dev.jsonl"
HELDOUT = ROOT / "tests" / "data" / "routing_heldout.jsonl"
KINDS = ("notice", "colloquial", "out_of_scope")

_CATEGORY = re.compile(r"^[(（][一二三四五六七八九十]+[)）](.+)$")
_FINDING = re.compile(r"^(\d+)[.．、]\s*针对[“\"](.+?)[”\"]问题[。.]?(.*)$")


def notice_path() -> Path:
    for path in NOTICE_CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError("seed notice not found in ../shared/notices or /work/shared/notices")


def _findings_by_regex(text: str) -> list[FindingDoc]:
    """Fallback until portal/notices/parse.py exists: category + finding lines."""
    docs: list[FindingDoc] = []
    category = ""
    for line in text.splitlines():
        line = line.strip()
        if cat := _CATEGORY.match(line):
            category = cat.group(1)
        elif found := _FINDING.match(line):
            number, title, body = int(found.group(1)), found.group(2), found.group(3)
            docs.append(FindingDoc(number, title, f"{category}\n{title}\n{body}"))
    return docs


def _findings_by_parser(text: str) -> list[FindingDoc] | None:
    try:
        from portal.notices.parse import parse_notice
    except ImportError:
        return None
    try:
        parsed = parse_notice(text)
        docs = []
        for category in parsed.categories:
            for finding in category.findings:
                measures = "\n".join(m.text for m in finding.measures)
                body = f"{category.title}\n{finding.title}\n{measures}"
                docs.append(FindingDoc(finding.number, finding.title, body))
    except Exception:  # the parser is someone else's work in progress
        return None
    return docs or None


def load_findings() -> tuple[list[FindingDoc], str]:
    """The seed notice's findings and where they came from (parser or fallback regex)."""
    text = notice_path().read_text(encoding="utf-8")
    parsed = _findings_by_parser(text)
    if parsed:
        return parsed, "portal.notices.parse"
    return _findings_by_regex(text), "fallback regex"


def load_cases(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@dataclass
class Figures:
    total: dict[str, int] = field(default_factory=dict)
    top1: dict[str, int] = field(default_factory=dict)
    top1_strict: dict[str, int] = field(default_factory=dict)
    top3: dict[str, int] = field(default_factory=dict)
    empty_answers: int = 0
    empty_and_oos: int = 0
    oos_total: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    def rate(self, hits: dict[str, int], kind: str) -> float:
        return hits.get(kind, 0) / self.total[kind] if self.total.get(kind) else float("nan")

    @property
    def oos_precision(self) -> float:
        return self.empty_and_oos / self.empty_answers if self.empty_answers else 1.0

    @property
    def oos_recall(self) -> float:
        return self.empty_and_oos / self.oos_total if self.oos_total else 1.0

    @property
    def in_scope_top1(self) -> float:
        hits = self.top1.get("notice", 0) + self.top1.get("colloquial", 0)
        n = self.total.get("notice", 0) + self.total.get("colloquial", 0)
        return hits / n if n else float("nan")


def evaluate(router: Router, cases: list[dict]) -> Figures:
    """top-1: first suggestion is one of the gold findings; top-3: any of the first three."""
    fig = Figures()
    for case in cases:
        kind, gold = case["kind"], case["findings"]
        start = time.perf_counter()
        got = [s.number for s in router.suggest(case["text"], limit=3)]
        fig.seconds += time.perf_counter() - start
        fig.total[kind] = fig.total.get(kind, 0) + 1
        if not got:
            fig.empty_answers += 1
            fig.empty_and_oos += not gold
        if not gold:
            fig.oos_total += 1
            if got:
                fig.misses.append(f"  oos   {got} <- {case['text']}")
            continue
        hit1 = bool(got) and got[0] in gold
        fig.top1[kind] = fig.top1.get(kind, 0) + hit1
        fig.top1_strict[kind] = fig.top1_strict.get(kind, 0) + (bool(got) and got[0] == gold[0])
        fig.top3[kind] = fig.top3.get(kind, 0) + any(n in gold for n in got[:3])
        if not hit1:
            fig.misses.append(f"  {kind[:5]} {got} want {gold} <- {case['text']}")
    return fig


def report(name: str, fig: Figures, n: int) -> None:
    print(f"{name}: {n} texts")
    for kind in ("notice", "colloquial"):
        print(
            f"  {kind:<11} n={fig.total.get(kind, 0):3d}"
            f"  top-1 {fig.rate(fig.top1, kind):.3f}"
            f" (strict {fig.rate(fig.top1_strict, kind):.3f})"
            f"  top-3 {fig.rate(fig.top3, kind):.3f}"
        )
    print(
        f"  out_of_scope n={fig.oos_total:3d}  precision {fig.oos_precision:.3f}"
        f"  recall {fig.oos_recall:.3f}"
    )
    print(f"  mean suggest() {1000 * fig.seconds / max(n, 1):.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--sweep", action="store_true", help="dev figures for several thresholds")
    ap.add_argument("--misses", action="store_true", help="list the texts it got wrong")
    args = ap.parse_args()

    start = time.perf_counter()
    findings, source = load_findings()
    print(f"findings from {source}")
    Router(findings)  # first build also loads jieba and the lexicon
    first = time.perf_counter() - start
    start = time.perf_counter()
    router = Router(findings, threshold=args.threshold)
    build = time.perf_counter() - start
    print(f"findings {len(findings)}; first build (loads jieba) {first * 1000:.0f} ms; ", end="")
    print(f"warm build {build * 1000:.1f} ms; threshold {router.threshold}")

    dev, held = load_cases(DEV), load_cases(HELDOUT)
    if args.sweep:
        for t in [x / 100 for x in range(20, 75, 5)]:
            fig = evaluate(Router(findings, threshold=t), dev)
            print(
                f"t={t:.2f} in-scope top-1 {fig.in_scope_top1:.3f}  colloquial top-1 "
                f"{fig.rate(fig.top1, 'colloquial'):.3f}  oos precision {fig.oos_precision:.3f}"
                f" recall {fig.oos_recall:.3f}"
            )
        return
    for name, cases in (("dev", dev), ("held-out", held)):
        fig = evaluate(router, cases)
        report(name, fig, len(cases))
        if args.misses:
            print("\n".join(fig.misses))
    print(f"DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}")


if __name__ == "__main__":
    main()
