"""Statistics: exact medians from histograms, weeks, the dashboard's SVG charts and the public
block on the notice page (counts only, no personal data)."""

from __future__ import annotations

import itertools
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, timedelta
from typing import Any

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.ledger import charts
from portal.ledger.stats import fold_finding_rows, fold_weeks, median_from_histogram
from tests.test_export import Dataset, ledger_dataset

SETTINGS = settings(max_examples=80, deadline=None)


@SETTINGS
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=60))
def test_histogram_median_is_the_median(values: list[int]) -> None:
    expected = statistics.median(values) if values else None
    assert median_from_histogram(Counter(values)) == expected


@SETTINGS
@given(
    st.lists(
        st.tuples(st.dates(date(2023, 1, 1), date(2025, 12, 31)), st.integers(0, 50)), max_size=40
    )
)
def test_weeks_start_on_monday_are_contiguous_and_keep_every_count(
    days: list[tuple[date, int]],
) -> None:
    weeks = fold_weeks(days)
    assert sum(c for _, c in weeks) == sum(c for _, c in days)
    assert all(monday.weekday() == 0 for monday, _ in weeks)
    assert all(b - a == timedelta(weeks=1) for (a, _), (b, _) in itertools.pairwise(weeks))


def test_fold_finding_rows_counts_replied_overdue_and_zero_rows() -> None:
    rows = [(1, 4, False, 1), (1, 10, False, 1), (1, None, True, 2), (1, None, False, 1)]
    out = fold_finding_rows(rows, [(1, 1, "甲"), (2, 2, "乙")])
    first, second = out
    assert (first.received, first.replied, first.overdue, first.median_days) == (5, 2, 2, 7.0)
    assert first.replied_share == 0.4
    assert (second.received, second.median_days, second.replied_share) == (0, None, None)


@SETTINGS
@given(st.lists(st.tuples(st.text(max_size=30), st.integers(0, 10**6)), max_size=12))
def test_charts_are_well_formed_svg_whatever_the_labels(items: list[tuple[str, int]]) -> None:
    for svg in (
        charts.horizontal_bars(items, title="标题<&>"),
        charts.vertical_bars(items, title="每周"),
    ):
        clean = "".join(c for c in svg if c in "\t\n\r" or ord(c) >= 0x20)
        if clean != svg:  # control characters are not XML; nothing we chart contains them
            continue
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) == len(items)


def test_dashboard_shows_charts_and_summary(
    app: Flask, published_notice: str, make_user: Any, staff_login: Any
) -> None:
    data: Dataset = ledger_dataset(app, published_notice, make_user("triager"))
    client = staff_login("viewer")
    page = client.get(f"/staff/dashboard?notice={data.slug}").get_data(as_text=True)
    assert page.count("<svg") == 8  # four charts, each wide (desktop) and narrow (phone)
    assert "各问题收到意见数" in page and "每周收到意见数" in page
    assert "未关联问题" in page
    march = client.get("/staff/dashboard?from=2024-03-01&to=2024-03-31").get_data(as_text=True)
    assert "共 6 条意见" in march
    anonymous = app.test_client().get("/staff/dashboard")
    assert anonymous.status_code == 302


def test_notice_page_shows_public_stats_without_personal_data(
    app: Flask, published_notice: str, make_user: Any
) -> None:
    ledger_dataset(app, published_notice, make_user("triager"))
    page = app.test_client().get(f"/notices/{published_notice}").get_data(as_text=True)
    start = page.index('id="feedback-stats"')
    block = page[start : page.index("</section>", page.index("</table>", start))]
    # Finding 1: 3 received (spam not counted), 2 replied -> 67%, median 7 days.
    assert "<td>3</td>" in block and "67%" in block and "7天" in block
    assert "意见A" not in page and "东莞市某路1号" not in page


def test_dashboard_counts_the_readers_offices_only(
    app: Flask, seed_text: str, make_user: Any, staff_login: Any
) -> None:
    from tests.test_oversight import B_FINDING, build_offices

    offices = build_offices(app, seed_text, make_user("admin"))
    triager = staff_login("triager")
    page = triager.get("/staff/dashboard").get_data(as_text=True)
    assert "共 6 条意见" in page  # a1..a6; not B's two, not the unrouted one
    assert B_FINDING not in page and "乙单位" not in page
    assert 'name="office"' not in page  # one office: nothing to choose
    assert f"/staff/report.docx?office={offices.a}" in page
    assert triager.get(f"/staff/dashboard?office={offices.b}").status_code == 404
    assert triager.get("/staff/dashboard?notice=b-notice").status_code == 404
    assert triager.get("/staff/dashboard?office=x").status_code == 404

    both = staff_login("viewer", user=make_user("viewer", offices=["main", "b"]))
    page = both.get("/staff/dashboard").get_data(as_text=True)
    assert "共 8 条意见" in page and 'name="office"' in page
    assert "/staff/report.docx" not in page  # which office? pick one first
    page = both.get(f"/staff/dashboard?office={offices.b}").get_data(as_text=True)
    assert "共 2 条意见" in page and B_FINDING in page
    assert f"/staff/report.docx?office={offices.b}" in page
    supervisor = staff_login("supervisor").get("/staff/dashboard").get_data(as_text=True)
    assert "共 9 条意见" in supervisor  # every office and the unrouted one
