"""The pure parsers' speed, each against a baseline measured in the same run.

- notice: parse_notice on the seed notice, and on the largest notice of tests/data/notices (a
  page pasted with its website text), vs. NFC-normalising and splitting its lines;
- notice formats: extract_text on the seed as .txt (GB18030), .docx, PDF and a web page, each vs.
  the library call underneath (decode; unzip document.xml; pypdf's plain extract_text; lxml's
  parse and text_content);
- mail: parse_message over tests/data/mail vs. the standard library's message_from_bytes;
- mail, 20 MB scan: one message with a base64 attachment vs. base64-decoding it alone;
- mail, 200 MB: quarantined by size vs. reading its headers with the standard library;
- HTML: clean_html + html_to_text on hostile markup (unclosed nesting, unterminated tags) vs.
  nh3.clean on well-formed markup of the same length: the ratio shows the cost stays linear;
- routing: Router.suggest over the dev comments, p50/p95 in ms.

Figures go to stdout and bench/results/parsers.json. Nothing here is a pass/fail gate.
"""

from __future__ import annotations

import base64
import email
import json
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nh3  # noqa: E402

from portal.intake.mail.parse import parse_message  # noqa: E402
from portal.intake.sanitize import clean_html, html_to_text  # noqa: E402
from portal.notices.parse import extract_text, parse_notice  # noqa: E402
from portal.triage.routing import Router  # noqa: E402

SEED = ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt"
NOTICES = ROOT / "tests" / "data" / "notices"
MAIL = ROOT / "tests" / "data" / "mail"
RESULTS = ROOT / "bench" / "results"


def best_of(fn: Callable[[], object], rounds: int = 7) -> float:
    """The fastest of several runs, in seconds: the least disturbed by other processes."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def pair(name: str, subject: float, baseline: float, figures: dict[str, object]) -> None:
    figures[name] = {"seconds": subject, "baseline_seconds": baseline, "ratio": subject / baseline}
    print(f"{name:32} {subject * 1000:10.2f} ms   baseline {baseline * 1000:9.2f} ms   "
          f"ratio {subject / baseline:7.1f}x")  # fmt: skip


def notice_figures(figures: dict[str, object]) -> None:
    text = SEED.read_text(encoding="utf-8")
    pair(
        "notice: seed",
        best_of(lambda: parse_notice(text), 20),
        best_of(lambda: unicodedata.normalize("NFC", text).splitlines(), 20),
        figures,
    )
    mine = [path for path in NOTICES.glob("*.txt") if not path.name.startswith("heldout-")]
    largest = max(mine, key=lambda path: path.stat().st_size)
    big = largest.read_text(encoding="utf-8")
    pair(
        f"notice: {largest.stem[:24]}",
        best_of(lambda: parse_notice(big), 20),
        best_of(lambda: unicodedata.normalize("NFC", big).splitlines(), 20),
        figures,
    )


def _seed_files(text: str) -> dict[str, bytes]:
    """The seed as each format an editor uploads: plain paragraphs, no numbering tricks."""
    import io

    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines())
    page = (
        "<html><head><meta charset='utf-8'></head><body><div class='nav'>首页 | 信息公开</div>"
        f"<div id='zoom'>{paragraphs}</div><div class='footer'>版权所有</div></body></html>"
    )
    files = {"txt": text.encode("gb18030"), "docx": buffer.getvalue(), "html": page.encode()}
    try:
        from portal.printing import render_pdf

        files["pdf"] = render_pdf(page, [])
    except (ImportError, OSError):
        pass
    return files


def format_figures(figures: dict[str, object]) -> None:
    import io
    import zipfile

    import lxml.html
    from pypdf import PdfReader

    files = _seed_files(SEED.read_text(encoding="utf-8"))
    baselines = {
        "txt": lambda data: data.decode("gb18030"),
        "docx": lambda data: zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"),
        "pdf": lambda data: [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages],
        "html": lambda data: lxml.html.document_fromstring(data).text_content(),
    }
    for kind, data in files.items():
        rounds = 3 if kind == "pdf" else 10
        pair(
            f"notice format: seed .{kind}",
            best_of(lambda d=data, k=kind: extract_text(d, f"seed.{k}"), rounds),
            best_of(lambda d=data, k=kind: baselines[k](d), rounds),
            figures,
        )


def mail_figures(figures: dict[str, object]) -> None:
    corpus = [p.read_bytes() for p in sorted(MAIL.glob("*.eml"))]
    pair(
        f"mail: corpus of {len(corpus)}",
        best_of(lambda: [parse_message(raw) for raw in corpus], 3),
        best_of(
            lambda: [email.message_from_bytes(raw, policy=policy.default) for raw in corpus], 3
        ),
        figures,
    )
    payload = bytes(range(256)) * (20 * 1024 * 4)
    encoded = base64.encodebytes(payload)
    scan = (
        b'From: a@qq.com\r\nSubject: scan\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "扫描件见附件".encode()
        + b"\r\n--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="scan.pdf"\r\n\r\n' + encoded + b"\r\n--x--\r\n"
    )  # fmt: skip
    pair(
        "mail: 20 MB scan",
        best_of(lambda: parse_message(scan), 3),
        best_of(lambda: base64.decodebytes(encoded), 3),
        figures,
    )
    huge = (
        b"From: big@qq.com\r\nSubject: big\r\nMessage-ID: <big@qq.com>\r\n"
        b"Content-Type: text/plain\r\n\r\n" + b"A" * (200 * 1024 * 1024)
    )
    head = huge[: huge.index(b"\r\n\r\n")]
    pair(
        "mail: 200 MB quarantined",
        best_of(lambda: parse_message(huge), 3),
        best_of(lambda: email.message_from_bytes(head, policy=policy.default), 3),
        figures,
    )


def html_figures(figures: dict[str, object]) -> None:
    benign = "<p>深<b>段</b></p>" * 20_000
    baseline = best_of(lambda: nh3.clean(benign), 3)
    for label, hostile in (
        ("unclosed <div>", "<div>深" * 50_000),
        ("unterminated <a", "<a " * 50_000),
        ("open comments", "<!--" * 50_000),
    ):
        pair(
            f"html: {label}",
            best_of(lambda h=hostile: (clean_html(h), html_to_text(h)), 3),
            baseline,
            figures,
        )


def routing_figures(figures: dict[str, object]) -> None:
    from bench.routing_accuracy import DEV, load_cases, load_findings

    router = Router(load_findings()[0])
    texts = [case["text"] for case in load_cases(DEV)]
    for text in texts:
        router.suggest(text)  # warm the per-notice caches
    times = []
    for text in texts:
        start = time.perf_counter()
        router.suggest(text)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
    figures["routing: suggest"] = {"p50_ms": p50, "p95_ms": p95, "texts": len(texts)}
    print(f"{'routing: suggest':32} p50 {p50:.3f} ms   p95 {p95:.3f} ms   over {len(texts)} texts")


def main() -> int:
    figures: dict[str, object] = {}
    notice_figures(figures)
    format_figures(figures)
    mail_figures(figures)
    html_figures(figures)
    routing_figures(figures)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "parsers.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
