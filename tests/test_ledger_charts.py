"""Dashboard charts (issue #18): every bar opens the queue filtered to what it counts, labels
are never clipped at the chart's edge, and a phone gets a chart drawn for its width."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import unescape
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.ledger import charts
from tests.test_export import Dataset, ledger_dataset

SVG = "{http://www.w3.org/2000/svg}"


def _links(page: str) -> dict[str, str]:
    """aria-label -> href of every linked bar on the page (first of each label)."""
    out: dict[str, str] = {}
    for href, name in re.findall(r'<a href="([^"]+)" aria-label="([^"]+)">', page):
        out.setdefault(unescape(name), unescape(href))
    return out


def _queue_codes(client: Any, href: str) -> set[str]:
    response = client.get(href)
    assert response.status_code == 200, href
    return set(re.findall(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b", response.get_data(as_text=True)))


def test_each_bar_opens_the_queue_with_what_it_counts(
    app: Flask, published_notice: str, make_user: Any, staff_login: Any
) -> None:
    data: Dataset = ledger_dataset(app, published_notice, make_user("triager"))
    client = staff_login("triager")
    page = client.get("/staff/dashboard?from=2024-03-01&to=2024-04-30").get_data(as_text=True)
    links = _links(page)
    c = data.codes
    # Channels: six web (A-F), one letter (G).
    assert _queue_codes(client, links["信件: 1"]) >= {c["G"]}
    assert c["A"] not in _queue_codes(client, links["信件: 1"])
    assert links["信件: 1"].startswith("/staff/queue?")
    assert "channel=letter" in links["信件: 1"] and "from=2024-03-01" in links["信件: 1"]
    # Finding 2: D and E (E held), not A.
    finding_2 = next(href for name, href in links.items() if name.startswith("2. "))
    shown = _queue_codes(client, finding_2)
    assert c["D"] in shown and c["A"] not in shown and c["G"] not in shown
    # Statuses: spam is F alone.
    assert c["F"] in _queue_codes(client, links["垃圾信息: 1"])
    assert "status=spam" in links["垃圾信息: 1"]
    # Weeks: the week of Monday 26 February holds A, B and C (1-3 March), narrowed to the
    # dashboard's own first day.
    week = links["2/26: 3"]
    assert "from=2024-03-01" in week and "to=2024-03-03" in week


def test_the_unlinked_bucket_has_no_link() -> None:
    svg = charts.horizontal_bars(
        [("未关联问题", 3, None), ("1. 甲", 2, "/staff/queue?finding=1")], title="t"
    )
    root = ET.fromstring(svg)
    anchors = list(root.iter(f"{SVG}a"))
    assert [a.get("href") for a in anchors] == ["/staff/queue?finding=1"]
    assert len(list(root.iter(f"{SVG}rect"))) == 2


def _right_edges(svg: str, size: float) -> list[tuple[float, float]]:
    """(left, right) extents of each text: full-width characters 1 em, others 0.5 em
    (a sans-serif's digits and Latin letters are narrower than that)."""
    root = ET.fromstring(svg)
    out = []
    for text in root.iter(f"{SVG}text"):
        # The visible text: a label's <title> (its full wording, a tooltip) is not drawn.
        content = (text.text or "") + "".join(child.tail or "" for child in text)
        em = float(text.get("font-size") or size)
        width = sum(em if ord(ch) >= 0x2E80 else em * 0.5 for ch in content)
        x = float(text.get("x", "0"))
        anchor = text.get("text-anchor", "start")
        left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        out.append((left, left + width))
    return out


LONG = "对群众反映强烈的食堂浪费问题整改不彻底、公务用车管理不规范等问题整改不到位"


def test_long_labels_stay_inside_the_chart() -> None:
    items = [(LONG, 1_234_567, "/q"), ("1. 短", 3, "/q"), ("2. " + LONG, 0, "/q")]
    for svg, width in (
        (charts.horizontal_bars(items, title=LONG), 640),
        (charts.horizontal_bars(items, title=LONG, width=340, narrow=True), 340),
        (charts.vertical_bars([(f"12/{d}", 9999) for d in range(1, 40)], title="每周"), 640),
    ):
        root = ET.fromstring(svg)
        assert root.get("viewBox") == f"0 0 {width} {root.get('height')}"
        for left, right in _right_edges(svg, 13):
            assert left >= 0 and right <= width + 0.5, (left, right, svg[:200])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.text(
                alphabet=st.characters(
                    min_codepoint=0x20, max_codepoint=0x9FFF, blacklist_categories=("Cs",)
                ),
                max_size=60,
            ),
            st.integers(0, 10**9),
        ),
        max_size=15,
    ),
    st.booleans(),
)
def test_no_label_leaves_the_chart_whatever_it_says(
    items: list[tuple[str, int]], narrow: bool
) -> None:
    width = 340 if narrow else 640
    svg = charts.horizontal_bars(items, title="标题", width=width, narrow=narrow)
    for left, right in _right_edges(svg, 13):
        assert left >= -0.5 and right <= width + 0.5


def test_dashboard_has_a_phone_chart_and_the_stylesheet_that_picks_it(
    app: Flask, published_notice: str, make_user: Any, staff_login: Any
) -> None:
    ledger_dataset(app, published_notice, make_user("triager"))
    page = staff_login("viewer").get("/staff/dashboard").get_data(as_text=True)
    assert page.count('class="chart-narrow"') == 4
    assert 'viewBox="0 0 340 ' in page
    assert "css/ledger.css" in page
    assert "style=" not in page.split("<main", 1)[-1]  # CSP: no inline style in the content
