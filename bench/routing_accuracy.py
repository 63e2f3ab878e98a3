"""Accuracy and speed of the finding-suggestion engine, on the seed notice and other offices'.

Run: .venv/bin/python bench/routing_accuracy.py [--threshold T] [--sweep] [--misses] [--loo]
Prints, for every set (seed dev / held-out, and each other office's notice dev / held-out):
top-1 / top-3 per kind, both-in-top-3 for two-finding comments, out-of-scope left unlinked,
in-scope left without any suggestion, and suggest() p50 / p95. The Router is built cold (no
learned examples); --loo adds leave-one-out figures with every other dev text confirmed.
The *_heldout.jsonl sets were written before any tuning and are never tuned on.
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
ALL_KINDS = ("notice", "colloquial", "hard", "out_of_scope")
DATA = ROOT / "tests" / "data"
# Other offices' notices (tests/data/notices) with their labelled comments.
OTHER_SETS = {
    "bureau": DATA / "notices" / "d-bureau-website-chrome.txt",
    "school": DATA / "notices" / "f-school-no-top-level.txt",
    "hospital": DATA / "notices" / "g-hospital-descriptions.txt",
    "company": DATA / "notices" / "h-company-inline.txt",
}

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
                # What portal.triage.findings.finding_docs gives the Router in the app.
                parts = [category.title, finding.title, getattr(finding, "description", "")]
                parts += [m.text for m in finding.measures]
                body = "\n".join(p for p in parts if p)
                docs.append(FindingDoc(finding.number, finding.title, body))
    except Exception:  # the parser is someone else's work in progress
        return None
    return docs or None


def other_findings(name: str) -> list[FindingDoc]:
    """Findings of one of OTHER_SETS' notices, as the app's Router would see them."""
    docs = _findings_by_parser(OTHER_SETS[name].read_text(encoding="utf-8"))
    if not docs:
        raise RuntimeError(f"the notices parser found no findings in {OTHER_SETS[name]}")
    return docs


def other_sets(name: str) -> tuple[Path, Path]:
    return DATA / f"routing_{name}_dev.jsonl", DATA / f"routing_{name}_heldout.jsonl"


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
    in_scope_empty: int = 0
    two_total: int = 0
    two_both3: int = 0
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)  # wall time less waits for the CPU
    misses: list[str] = field(default_factory=list)

    def rate(self, hits: dict[str, int], kind: str) -> float:
        return hits.get(kind, 0) / self.total[kind] if self.total.get(kind) else float("nan")

    @property
    def oos_precision(self) -> float:
        return self.empty_and_oos / self.empty_answers if self.empty_answers else 1.0

    @property
    def oos_recall(self) -> float:
        """Out-of-scope texts left unlinked (no suggestion at all)."""
        return self.empty_and_oos / self.oos_total if self.oos_total else 1.0

    @property
    def in_scope_total(self) -> int:
        return sum(n for kind, n in self.total.items() if kind != "out_of_scope")

    @property
    def in_scope_empty_rate(self) -> float:
        return self.in_scope_empty / self.in_scope_total if self.in_scope_total else 0.0

    @property
    def in_scope_top1(self) -> float:
        hits = self.top1.get("notice", 0) + self.top1.get("colloquial", 0)
        n = self.total.get("notice", 0) + self.total.get("colloquial", 0)
        return hits / n if n else float("nan")

    def percentile_ms(self, q: float, cpu: bool = False) -> float:
        times = self.cpu_times if cpu else self.times
        if not times:
            return float("nan")
        ordered = sorted(times)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def evaluate(router: Router, cases: list[dict], learned: Router | None = None) -> Figures:
    """top-1: first suggestion is one of the gold findings; top-3: any of the first three;
    both-in-top-3: every gold finding of a two-finding comment among the first three."""
    fig = Figures()
    for case in cases:
        kind, gold = case["kind"], case["findings"]
        start, cpu = time.perf_counter(), time.thread_time()
        got = [s.number for s in router.suggest(case["text"], limit=3)]
        elapsed = time.perf_counter() - start
        fig.cpu_times.append(time.thread_time() - cpu)
        fig.seconds += elapsed
        fig.times.append(elapsed)
        fig.total[kind] = fig.total.get(kind, 0) + 1
        if not got:
            fig.empty_answers += 1
            fig.empty_and_oos += not gold
            fig.in_scope_empty += bool(gold)
        if not gold:
            fig.oos_total += 1
            if got:
                fig.misses.append(f"  oos   {got} <- {case['text']}")
            continue
        if len(gold) >= 2:
            fig.two_total += 1
            fig.two_both3 += all(n in got[:3] for n in gold)
        hit1 = bool(got) and got[0] in gold
        fig.top1[kind] = fig.top1.get(kind, 0) + hit1
        fig.top1_strict[kind] = fig.top1_strict.get(kind, 0) + (bool(got) and got[0] == gold[0])
        fig.top3[kind] = fig.top3.get(kind, 0) + any(n in gold for n in got[:3])
        if not hit1:
            fig.misses.append(f"  {kind[:5]} {got} want {gold} <- {case['text'][:80]}")
    return fig


def leave_one_out(findings: list[FindingDoc], cases: list[dict]) -> Figures:
    """Each in-scope text ranked by a Router that learned every OTHER in-scope text of the set
    (its gold findings confirmed), as staff confirmations would teach it."""
    fig = Figures()
    for i, case in enumerate(cases):
        router = Router(findings)
        for j, other in enumerate(cases):
            if j != i:
                for number in other["findings"]:
                    router.learn(number, other["text"])
        part = evaluate(router, [case])
        for name in ("total", "top1", "top1_strict", "top3"):
            for kind, n in getattr(part, name).items():
                getattr(fig, name)[kind] = getattr(fig, name).get(kind, 0) + n
        fig.empty_answers += part.empty_answers
        fig.empty_and_oos += part.empty_and_oos
        fig.oos_total += part.oos_total
        fig.in_scope_empty += part.in_scope_empty
        fig.two_total += part.two_total
        fig.two_both3 += part.two_both3
        fig.times += part.times
        fig.cpu_times += part.cpu_times
    return fig


def report(name: str, fig: Figures, n: int) -> None:
    print(f"{name}: {n} texts")
    for kind in ("notice", "colloquial", "hard"):
        if not fig.total.get(kind):
            continue
        print(
            f"  {kind:<11} n={fig.total.get(kind, 0):3d}"
            f"  top-1 {fig.rate(fig.top1, kind):.3f}"
            f" (strict {fig.rate(fig.top1_strict, kind):.3f})"
            f"  top-3 {fig.rate(fig.top3, kind):.3f}"
        )
    if fig.two_total:
        both = fig.two_both3 / fig.two_total
        print(f"  two findings n={fig.two_total:3d}  both in top-3 {both:.3f}")
    print(
        f"  out_of_scope n={fig.oos_total:3d}  left unlinked {fig.oos_recall:.3f}"
        f"  (precision of empty answers {fig.oos_precision:.3f})"
    )
    print(
        f"  in-scope without any suggestion {fig.in_scope_empty}/{fig.in_scope_total}"
        f" = {fig.in_scope_empty_rate:.3f}"
    )
    print(
        f"  suggest() p50 {fig.percentile_ms(0.5):.2f} ms  p95 {fig.percentile_ms(0.95):.2f} ms"
        f"  (CPU time p50 {fig.percentile_ms(0.5, True):.2f} ms"
        f"  p95 {fig.percentile_ms(0.95, True):.2f} ms)"
    )


def all_sets() -> list[tuple[str, list[FindingDoc], list[dict]]]:
    """(name, findings, cases) for every set: the seed's, then each other office's."""
    seed, _ = load_findings()
    sets = [("seed dev", seed, load_cases(DEV)), ("seed held-out", seed, load_cases(HELDOUT))]
    for name in OTHER_SETS:
        findings = other_findings(name)
        dev, held = other_sets(name)
        sets += [(f"{name} dev", findings, load_cases(dev))]
        sets += [(f"{name} held-out", findings, load_cases(held))]
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--sweep", action="store_true", help="dev figures for several thresholds")
    ap.add_argument("--misses", action="store_true", help="list the texts it got wrong")
    ap.add_argument("--loo", action="store_true", help="leave-one-out learning on dev sets")
    args = ap.parse_args()

    start = time.perf_counter()
    findings, source = load_findings()
    print(f"findings from {source}")
    Router(findings)  # first build also loads jieba, OpenCC, the lexicon and the concepts
    first = time.perf_counter() - start
    start = time.perf_counter()
    Router(findings, threshold=args.threshold)
    build = time.perf_counter() - start
    print(f"seed findings {len(findings)}; first build {first * 1000:.0f} ms; ", end="")
    print(f"warm build {build * 1000:.1f} ms")

    sets = all_sets()
    if args.sweep:
        for t in [x / 100 for x in range(30, 75, 5)]:
            line = [f"t={t:.2f}"]
            for name, docs, cases in sets:
                if "dev" in name:
                    fig = evaluate(Router(docs, threshold=t), cases)
                    top1 = sum(fig.top1.values()) / max(fig.in_scope_total, 1)
                    line.append(f"{name}: top-1 {top1:.2f} oos {fig.oos_recall:.2f}")
            print("  ".join(line))
        return
    for name, docs, cases in sets:
        router = Router(docs, threshold=args.threshold)
        fig = evaluate(router, cases)
        report(name, fig, len(cases))
        if args.misses:
            print("\n".join(fig.misses))
        if args.loo and "dev" in name:
            loo = leave_one_out(docs, [c for c in cases if c["findings"]])
            top1 = sum(loo.top1.values()) / max(loo.in_scope_total, 1)
            cold1 = sum(fig.top1.values()) / max(fig.in_scope_total, 1)
            print(f"  leave-one-out learning: in-scope top-1 {cold1:.3f} cold -> {top1:.3f}")
    print(f"DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}")


if __name__ == "__main__":
    main()
