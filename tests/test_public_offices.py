"""The public side of many offices: the home page by round and unit, the office page, the
notice page's breadcrumb, and the per-unit feedback counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from portal.extensions import db
from portal.notices.feedback_counts import FeedbackCounts, register_counter
from portal.notices.listing import group_notices
from portal.notices.service import import_notice
from portal.offices.service import create_office, create_round, default_office

DATA = Path(__file__).parent / "data" / "notices"
B_TEXT = (DATA / "b-compact-straight-quotes.txt").read_text(encoding="utf-8")
C_TEXT = (DATA / "c-district-footer.txt").read_text(encoding="utf-8")


@dataclass
class Site:
    main_id: int
    b_id: int
    c_id: int


@pytest.fixture
def site(app: Flask, seed_text: str) -> Site:
    """Three offices; rounds 4 (older) and 5 (newer); a notice of no round; a draft; an
    inactive office's published notice."""
    with app.app_context():
        main = default_office()
        main.contact_phone = "0769-2236 6196"
        b = create_office("nanhai-edu", name="南海区教育局", short_name="南海教育")
        b.contact_phone = "0757-8628 1234"
        b.contact_email = "xczg@nanhai.test"
        b.contact_address = "佛山市南海区桂城街道南海大道1号"
        b.contact_postcode = "528200"
        c = create_office("closed-unit", name="已撤并单位")
        c.active = False
        old = create_round("r4", name="十五届区委第四轮巡察", starts_on=date(2023, 9, 1))
        new = create_round(
            "r5",
            name="十五届区委第五轮巡察",
            inspection_group="区委第一巡察组",
            starts_on=date(2024, 3, 1),
            ends_on=date(2024, 5, 31),
        )
        import_notice(seed_text, slug="dg-r5", publish=True, office=main, round_=new)
        import_notice(B_TEXT, slug="nh-r5", publish=True, office=b, round_=new)
        import_notice(C_TEXT, slug="nh-r4", publish=True, office=b, round_=old)
        import_notice(seed_text, slug="dg-none", publish=True, office=main)
        import_notice(seed_text, slug="nh-draft", office=b, round_=new)
        import_notice(B_TEXT, slug="closed-r5", publish=True, office=c, round_=new)
        db.session.commit()
        return Site(main.id, b.id, c.id)


def page(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_home_lists_rounds_newest_first_with_their_units(client: Any, site: Site) -> None:
    html = page(client, "/")
    assert html.index("十五届区委第五轮巡察") < html.index("十五届区委第四轮巡察")
    assert html.index("十五届区委第四轮巡察") < html.index("其他公示")
    r5 = html.split('id="round-r5"')[1].split('id="round-r4"')[0]
    assert "区委第一巡察组" in r5 and "2024年3月1日" in r5
    # Both units of round 5, each with its own notice and a link to its page.
    assert r5.index("巡察整改办公室") < r5.index("南海区教育局")  # the default office first
    assert "/notices/dg-r5" in r5 and "/notices/nh-r5" in r5
    assert 'href="/offices/nanhai-edu"' in r5 and 'href="/offices/main"' in r5
    r4 = html.split('id="round-r4"')[1].split('id="other-notices"')[0]
    assert "/notices/nh-r4" in r4 and "/notices/nh-r5" not in r4
    other = html.split('id="other-notices"')[1]
    assert "/notices/dg-none" in other and "/notices/dg-r5" not in other
    # Drafts and the notices of an inactive office are not listed.
    assert "/notices/nh-draft" not in html
    assert "/notices/closed-r5" not in html and "已撤并单位" not in html


def test_one_office_without_rounds_lists_its_notices_without_a_round_heading(
    client: Any, published_notice: str
) -> None:
    html = page(client, "/")
    assert f"/notices/{published_notice}" in html
    assert "其他公示" not in html
    assert 'href="/offices/main"' in html


def register_counts(app: Flask, counts: dict[int, FeedbackCounts]) -> list[int]:
    calls: list[int] = []

    def counter() -> dict[int, FeedbackCounts]:
        calls.append(1)
        return dict(counts)

    register_counter(app, counter)
    return calls


def unit_counts(html: str, office_slug: str) -> str:
    block = html.split(f'href="/offices/{office_slug}"', 1)[1]
    return re.search(r'class="meta unit-counts">([^<]*)<', block).group(1)


def test_each_unit_shows_its_own_feedback_counts(app: Flask, client: Any, site: Site) -> None:
    register_counts(app, {site.b_id: FeedbackCounts(received=12, replied=9)})
    html = page(client, "/")
    assert unit_counts(html, "nanhai-edu") == "共收到意见 12 件，已答复 9 件"
    assert unit_counts(html, "main") == "共收到意见 0 件，已答复 0 件"
    office = page(client, "/offices/nanhai-edu")
    assert "共收到意见 12 件，已答复 9 件" in office


@pytest.mark.config(NOTICE_PAGE_MAX_AGE=60)
def test_counts_are_counted_once_per_max_age_and_then_catch_up(
    app: Flask, client: Any, site: Site
) -> None:
    from portal.caching import notice_cache
    from portal.notices.feedback_counts import CACHE

    counts = {site.b_id: FeedbackCounts(1, 0)}
    calls = register_counts(app, counts)
    assert unit_counts(page(client, "/"), "nanhai-edu") == "共收到意见 1 件，已答复 0 件"
    counts[site.b_id] = FeedbackCounts(2, 1)
    # Within the max age every page (home and office) reuses the one count.
    assert unit_counts(page(client, "/"), "nanhai-edu") == "共收到意见 1 件，已答复 0 件"
    assert "共收到意见 1 件" in page(client, "/offices/nanhai-edu")
    assert len(calls) == 1
    entry = notice_cache(CACHE, app).entry("all")
    assert entry is not None
    entry.stored_at -= 61  # the max age has passed
    assert unit_counts(page(client, "/"), "nanhai-edu") == "共收到意见 2 件，已答复 1 件"
    assert len(calls) == 2


def test_without_a_counter_no_made_up_zeros_are_shown(app: Flask, client: Any, site: Site) -> None:
    from portal.notices.feedback_counts import EXTENSION

    app.extensions.pop(EXTENSION)  # the ledger registers one in every real deployment
    html = page(client, "/")
    assert "收到意见" not in html


def test_the_ledger_counts_real_opinions_and_replies(app: Flask, client: Any, site: Site) -> None:
    from sqlalchemy import select

    from portal.intake.models import Submission
    from portal.intake.service import Incoming, record_submission
    from portal.notices.models import Notice
    from portal.staff.service import create_user
    from portal.triage.replies import send_reply

    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == "nh-r5"))
        codes = [
            record_submission(
                Incoming(channel="letter", notice=notice, body=f"食堂饭菜价格偏高，第{n}封来信。")
            )
            for n in range(3)
        ]
        author = create_user(
            "nh-triager@nanhai.test",
            role="triager",
            password="correct horse battery staple 9",
            offices=[db.session.get(Notice, notice.id).office],
        )
        answered = db.session.get(Submission, codes[0].submission_id)
        send_reply(answered, body="已核实并整改。", actor_user=author)
        db.session.commit()
    assert unit_counts(page(client, "/"), "nanhai-edu") == "共收到意见 3 件，已答复 1 件"
    assert unit_counts(page(client, "/"), "main") == "共收到意见 0 件，已答复 0 件"


def test_office_page_shows_contacts_notices_and_rounds(client: Any, site: Site) -> None:
    html = page(client, "/offices/nanhai-edu")
    assert "<h1>南海区教育局</h1>" in html
    assert 'href="tel:075786281234"' in html
    assert 'href="mailto:xczg@nanhai.test"' in html
    assert "佛山市南海区桂城街道南海大道1号" in html and "528200" in html
    assert "/notices/nh-r5" in html and "/notices/nh-r4" in html
    assert html.index("/notices/nh-r5") < html.index("十五届区委第五轮巡察", html.index("nh-r5"))
    # Only its own published notices.
    assert "/notices/dg-r5" not in html and "/notices/nh-draft" not in html


@pytest.mark.parametrize("slug", ["closed-unit", "no-such-office"])
def test_unknown_or_inactive_office_is_a_chinese_404(client: Any, site: Site, slug: str) -> None:
    response = client.get(f"/offices/{slug}")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_notice_page_names_its_office_and_round(client: Any, site: Site) -> None:
    html = page(client, "/notices/nh-r5")
    crumbs = html.split('class="breadcrumb', 1)[1].split("</nav>", 1)[0]
    assert "十五届区委第五轮巡察" in crumbs
    assert '<a class="breadcrumb-office" href="/offices/nanhai-edu">南海区教育局</a>' in crumbs
    # An inactive office's notice stays readable at its URL, without a link to a 404.
    closed = page(client, "/notices/closed-r5")
    assert 'href="/offices/closed-unit"' not in closed and "已撤并单位" in closed


def test_notice_json_keeps_its_contract_with_many_offices(client: Any, site: Site) -> None:
    data = client.get("/notices/nh-r5.json").get_json()
    assert set(data) == {"slug", "title", "signed_by", "signed_on", "contacts", "categories"}
    assert data["slug"] == "nh-r5"


def test_office_page_is_the_same_for_everyone_and_sets_no_cookie(
    app: Flask, client: Any, site: Site, staff_login: Any
) -> None:
    register_counts(app, {site.b_id: FeedbackCounts(3, 1)})
    anonymous = client.get("/offices/nanhai-edu")
    assert "Set-Cookie" not in anonymous.headers
    staff = staff_login("triager").get("/offices/nanhai-edu")
    assert unit_counts_text(staff) == unit_counts_text(anonymous) == "共收到意见 3 件，已答复 1 件"


def unit_counts_text(response: Any) -> str:
    html = response.get_data(as_text=True)
    return re.search(r'class="meta unit-counts">([^<]*)<', html).group(1)


# --- the grouping on its own --------------------------------------------------------------------


def fake(notice_id: int, office: Any, found: Any) -> Any:
    return SimpleNamespace(
        id=notice_id,
        office=office,
        office_id=office.id,
        round=found,
        round_id=found.id if found else None,
    )


offices = st.lists(
    st.builds(
        SimpleNamespace,
        id=st.integers(1, 6),
        name=st.sampled_from(["甲局", "乙局", "丙局"]),
        is_default=st.booleans(),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda o: o.id,
)
rounds = st.lists(
    st.builds(
        SimpleNamespace,
        id=st.integers(1, 6),
        starts_on=st.none() | st.dates(date(2020, 1, 1), date(2026, 1, 1)),
    ),
    max_size=3,
    unique_by=lambda r: r.id,
)


@given(offices, rounds, st.data())
def test_grouping_keeps_every_notice_once_in_its_round_and_unit(
    office_list: list[Any], round_list: list[Any], data: st.DataObject
) -> None:
    picks = data.draw(
        st.lists(
            st.tuples(st.sampled_from(office_list), st.sampled_from([None, *round_list])),
            max_size=12,
        )
    )
    notices = [fake(i, office, found) for i, (office, found) in enumerate(picks)]
    groups = group_notices(notices)
    placed = [(n.id, g.round, u.office) for g in groups for u in g.units for n in u.notices]
    assert sorted(p[0] for p in placed) == [n.id for n in notices]
    for notice_id, found, office in placed:
        assert notices[notice_id].round is found and notices[notice_id].office is office
    for group in groups:
        for unit in group.units:  # the given order (newest first) is kept
            ids = [n.id for n in unit.notices]
            assert ids == sorted(ids)
    with_round = [g.round for g in groups if g.round is not None]
    keys = [(r.starts_on or date.min, r.id) for r in with_round]
    assert keys == sorted(keys, reverse=True)
    assert all(g.round is not None for g in groups[:-1])  # "no round" comes last
