"""Similar opinions on the detail page, and merging by picking a candidate (issue 15):
reworded opinions on the same matter show up beside each other (within one office), with what
they share; a merge is chosen from a list or a search, previewed, confirmed, then done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import Submission
from portal.notices.models import Notice
from portal.triage.models import DuplicateLink
from tests.conftest import form_post

CAR = "XX路口的公车天天停在饭店门口，一停就是一下午。"
CAR_REWORDED = "看到单位的车周末停在酒楼外面，XX路口那家，希望管一管。"
CAR_ELSEWHERE = "西湖路的公车停在酒楼外面吃饭，好几次了。"
GIFT_CARDS = "单位逢年过节给职工发购物卡，工会经费被挪作他用，希望彻查。"


def _record(app: Flask, slug: str | None, body: str, office: Any = None) -> Any:
    from portal.intake.service import Incoming, record_submission

    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug)) if slug else None
        return record_submission(Incoming(channel="web", body=body, notice=notice))


def _get(code: str) -> Submission:
    return db.session.scalar(select(Submission).where(Submission.code == code))


def _similar_panel(html: str) -> str:
    start = html.index('<section class="duplicates">')
    return html[start : html.index("</section>", start)]


def test_a_rewording_sent_minutes_later_shows_as_similar_with_what_it_shares(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    first = _record(app, published_notice, CAR)
    second = _record(app, published_notice, CAR_REWORDED)
    elsewhere = _record(app, published_notice, CAR_ELSEWHERE)
    other = _record(app, published_notice, GIFT_CARDS)
    client = staff_login("viewer")
    panel = _similar_panel(client.get(f"/staff/submissions/{second.code}").get_data(as_text=True))
    assert first.code in panel
    assert "同一事项" in panel and "公务用车" in panel and "xx路" in panel
    assert elsewhere.code not in panel and other.code not in panel  # same finding, other place
    assert "疑似集中反映" not in panel  # two opinions are not a campaign


def test_a_rewording_weeks_apart_is_not_listed(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    first = _record(app, published_notice, CAR)
    second = _record(app, published_notice, CAR_REWORDED)
    with app.app_context():
        _get(first.code).received_at = _get(second.code).received_at - timedelta(days=40)
        db.session.commit()
    html = staff_login("viewer").get(f"/staff/submissions/{second.code}").get_data(as_text=True)
    assert first.code not in _similar_panel(html)


def test_three_reworded_opinions_are_a_campaign(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    codes = [
        _record(app, published_notice, body).code
        for body in (CAR, CAR_REWORDED, "XX路口那间饭店，门口天天停着公家的车")
    ]
    panel = _similar_panel(
        staff_login("viewer").get(f"/staff/submissions/{codes[0]}").get_data(as_text=True)
    )
    assert "疑似集中反映：另有 2 件" in panel
    assert codes[1] in panel and codes[2] in panel


# --- the merge picker -----------------------------------------------------------------------


def _radio_codes(html: str) -> list[str]:
    import re

    return re.findall(r'type="radio" name="original" value="([^"]+)"', html)


def test_merge_picks_a_similar_opinion_previews_it_and_merges_after_confirmation(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    first = _record(app, published_notice, CAR)
    second = _record(app, published_notice, CAR_REWORDED)
    unrelated = _record(app, published_notice, GIFT_CARDS)
    client = staff_login("triager")
    detail = client.get(f"/staff/submissions/{second.code}").get_data(as_text=True)
    pick_url = f"/staff/submissions/{second.code}/merge"
    assert f'href="{pick_url}"' in detail

    picked = client.get(pick_url)
    assert picked.mimetype == "text/html"  # a browser shows the page, not its source
    pick = picked.get_data(as_text=True)
    assert _radio_codes(pick) == [first.code]  # the similar one, no typing needed
    assert "同一事项" in pick

    searched = client.get(pick_url, query_string={"q": "购物卡"}).get_data(as_text=True)
    assert _radio_codes(searched) == [first.code, unrelated.code]  # similar first, then found
    by_code = client.get(pick_url, query_string={"q": unrelated.code.lower()})
    assert unrelated.code in _radio_codes(by_code.get_data(as_text=True))

    confirm_url = f"/staff/submissions/{second.code}/merge/confirm"
    preview = client.get(confirm_url, query_string={"original": first.code})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and preview.mimetype == "text/html"
    assert "XX路口的公车天天停在饭店门口" in page  # the original's text, to check before merging
    with app.app_context():  # nothing changed yet
        assert _get(second.code).status == "received"

    response = form_post(
        client,
        f"/staff/submissions/{second.code}/merge",
        {"original": first.code, "reason": "同一事项"},
        form_url=f"{confirm_url}?original={first.code}",
    )
    assert response.status_code == 303
    with app.app_context():
        assert _get(second.code).status == "duplicate"
        link = db.session.scalar(select(DuplicateLink))
        assert link.original.code == first.code and link.similarity >= 0.6


@pytest.mark.parametrize("case", ["itself", "unknown", "duplicate"])
def test_the_confirmation_refuses_what_cannot_be_an_original(
    app: Flask, staff_login: Any, published_notice: str, case: str
) -> None:
    first = _record(app, published_notice, CAR)
    second = _record(app, published_notice, CAR_REWORDED)
    client = staff_login("triager")
    original = {"itself": second.code, "unknown": "AAAAA-AAAAA", "duplicate": first.code}[case]
    if case == "duplicate":
        third = _record(app, published_notice, "XX路口那间饭店，门口天天停着公家的车")
        url = f"/staff/submissions/{first.code}"
        form_post(
            client, url + "/merge", {"original": third.code, "reason": "同一事项"}, form_url=url
        )
    response = client.get(
        f"/staff/submissions/{second.code}/merge/confirm", query_string={"original": original}
    )
    page = response.get_data(as_text=True)
    assert response.status_code in (404, 409)
    assert 'name="original"' not in page  # no form to post
    expected = {
        "itself": "自身的重复",
        "unknown": "找不到该回执编号",
        "duplicate": "本身已是重复意见",
    }
    assert expected[case] in page


def test_the_picker_never_lists_another_offices_opinions(
    app: Flask, staff_login: Any, published_notice: str
) -> None:
    from portal.intake.service import Incoming, record_submission
    from portal.notices.service import import_notice
    from portal.offices.service import create_office
    from tests.test_office_isolation import _notice_b_text

    mine = _record(app, published_notice, CAR)
    with app.app_context():
        office_b = create_office("yi-ju", name="乙区某局", short_name="乙局")
        notice_b = import_notice(_notice_b_text(), slug="yi", publish=True, office=office_b).notice
        db.session.commit()
        theirs = record_submission(Incoming(channel="web", body=CAR_REWORDED, notice=notice_b))
    client = staff_login("triager")
    pick_url = f"/staff/submissions/{mine.code}/merge"
    for query in ("", "酒楼", theirs.code):
        page = client.get(pick_url, query_string={"q": query}).get_data(as_text=True)
        assert theirs.code not in _radio_codes(page) and "看到单位的车" not in page
    detail = client.get(f"/staff/submissions/{mine.code}").get_data(as_text=True)
    assert theirs.code not in detail
    refused = client.get(pick_url + "/confirm", query_string={"original": theirs.code})
    assert refused.status_code == 404 and "看到单位的车" not in refused.get_data(as_text=True)


@pytest.fixture
def picker(app: Flask, staff_login: Any, published_notice: str) -> tuple[Any, str]:
    """A triager's client and the merge picker's URL for one opinion."""
    receipt = _record(app, published_notice, CAR)
    return staff_login("triager"), f"/staff/submissions/{receipt.code}/merge"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=120))
def test_any_search_typed_into_the_picker_gets_a_page(picker: tuple[Any, str], query: str) -> None:
    client, url = picker
    response = client.get(url, query_string={"q": query})
    assert response.status_code == 200
    assert 'name="q"' in response.get_data(as_text=True)
