"""The routing desk (/staff/routing) and the office guesser intake asks for unrouted mail.

Office A (甲单位) publishes the seed notice (a procuratorate), office B (乙单位) a housing
bureau's; both in round r1. Unrouted submissions wait for the inspection office, which routes
them with the offices the finding Routers suggest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.staff.models import ROLES
from portal.triage import office_guess
from tests.conftest import SEED_NOTICE, csrf_token_from, form_post

DATA = Path(__file__).parent / "data"
HOUSING_NOTICE = DATA / "office_routing" / "housing-bureau-notice.txt"
HOUSING_TEXT = "我们小区物业乱收停车费，公共收益从来不公布，维修资金也被物业公司挪用。"
SHARED_TEXT = "党支部三会一课流于形式，会议记录都是补的。"  # both notices have such a finding
NOWHERE_TEXT = "请问办理护照需要带什么材料"


@dataclass
class Setup:
    a_id: int
    b_id: int
    b_notice: int
    unrouted: str  # the code of an unrouted submission about housing


def _unrouted(body: str) -> str:
    from portal.intake.service import Incoming, record_submission

    incoming = Incoming(channel="email", body=body, notice=None, unrouted=True)
    return record_submission(incoming).code


@pytest.fixture
def desk(app: Flask) -> Setup:
    from portal.notices.service import import_notice
    from portal.offices.service import create_office, create_round

    with app.app_context():
        r1 = create_round("r1", name="第一轮巡察")
        a = create_office("a", name="甲单位")
        b = create_office("b", name="乙单位")
        b.reply_within_workdays = 5
        import_notice(SEED_NOTICE.read_text(), slug="a-notice", publish=True, office=a, round_=r1)
        b_notice = import_notice(
            HOUSING_NOTICE.read_text(), slug="b-notice", publish=True, office=b, round_=r1
        ).notice
        db.session.commit()
        return Setup(a.id, b.id, b_notice.id, _unrouted(HOUSING_TEXT))


def _submission(code: str) -> Submission:
    found = db.session.scalar(select(Submission).where(Submission.code == code))
    assert found is not None
    return found


@pytest.mark.parametrize("role", ROLES)
def test_only_the_inspection_office_and_admins_use_the_desk(
    app: Flask, desk: Setup, staff_login: Any, role: str
) -> None:
    client = staff_login(role)
    allowed = role in ("admin", "supervisor")
    assert (client.get("/staff/routing").status_code == 200) == allowed
    token = csrf_token_from(client.get("/staff/account").get_data(as_text=True))
    posted = client.post(
        f"/staff/submissions/{desk.unrouted}/route",
        data={"office": desk.b_id, "csrf_token": token},
    )
    assert posted.status_code == (303 if allowed else 403)
    with app.app_context():
        assert _submission(desk.unrouted).office_id == (desk.b_id if allowed else None)


def test_every_routing_view_is_in_the_desk_tables(app: Flask) -> None:
    mine = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == "portal.triage.routing_views"
    }
    assert mine == {"triage.routing_desk", "triage.route"}


def test_the_desk_suggests_the_office_and_routing_hands_it_over(
    app: Flask, desk: Setup, staff_login: Any, make_user: Any
) -> None:
    a_triager = staff_login("triager", user=make_user("triager", offices=["a"]))
    b_triager = staff_login("triager", user=make_user("triager", offices=["b"]))
    for client in (a_triager, b_triager):  # nobody's queue holds it yet, nor can they open it
        assert desk.unrouted not in client.get("/staff/queue").get_data(as_text=True)
        assert client.get(f"/staff/submissions/{desk.unrouted}").status_code == 404

    supervisor = staff_login("supervisor")
    page = supervisor.get("/staff/routing").get_data(as_text=True)
    assert desk.unrouted in page and "物业乱收停车费" in page
    first = page.index("建议的单位")
    assert page.index("乙单位", first) < page.find("甲单位", first) or "甲单位" not in page[first:]
    assert "相关度：强" in page
    assert "0." not in page[first : page.index("</article>", first)]  # words, not numbers

    url = f"/staff/submissions/{desk.unrouted}/route"
    form_post(
        supervisor, url, {"office": desk.b_id, "notice": desk.b_notice}, form_url="/staff/routing"
    )
    with app.app_context():
        routed = _submission(desk.unrouted)
        assert routed.office_id == desk.b_id and routed.notice_id == desk.b_notice
        from portal.workdays import WorkCalendar, local_date

        calendar = WorkCalendar.from_config(app.config)
        assert routed.reply_due_on == calendar.add_workdays(local_date(routed.received_at), 5)
        event = db.session.scalar(
            select(audit.Event).where(audit.Event.action == "submission.route")
        )
        assert event.actor == supervisor.user.actor
        assert event.details["from"] is None and event.details["to"] == desk.b_id
    assert f'id="s-{desk.unrouted}"' not in supervisor.get("/staff/routing").get_data(as_text=True)
    assert desk.unrouted in b_triager.get("/staff/queue").get_data(as_text=True)
    assert desk.unrouted not in a_triager.get("/staff/queue").get_data(as_text=True)
    assert a_triager.get(f"/staff/submissions/{desk.unrouted}").status_code == 404
    history = b_triager.get(f"/staff/submissions/{desk.unrouted}").get_data(as_text=True)
    assert "分办到承办单位" in history and "submission.route" not in history

    # Once routed, the supervisor cannot move it again; an admin can.
    again = form_post(supervisor, url, {"office": desk.a_id}, form_url="/staff/routing")
    assert "已分办" in supervisor.get(again.location).get_data(as_text=True)
    form_post(staff_login("admin"), url, {"office": desk.a_id}, form_url="/staff/routing")
    with app.app_context():
        assert _submission(desk.unrouted).office_id == desk.a_id


def test_routing_refuses_a_notice_of_another_office_and_no_office(
    app: Flask, desk: Setup, staff_login: Any
) -> None:
    client = staff_login("supervisor")
    url = f"/staff/submissions/{desk.unrouted}/route"
    wrong = form_post(
        client, url, {"office": desk.a_id, "notice": desk.b_notice}, form_url="/staff/routing"
    )
    assert "所选公示不属于该单位" in client.get(wrong.location).get_data(as_text=True)
    none = form_post(client, url, {"office": ""}, form_url="/staff/routing")
    assert "请选择单位" in client.get(none.location).get_data(as_text=True)
    assert form_post(client, url, {"office": "甲"}, form_url="/staff/routing").status_code == 400
    with app.app_context():
        assert _submission(desk.unrouted).office_id is None


def test_the_round_filter_suggests_from_that_rounds_notices_only(
    app: Flask, desk: Setup, staff_login: Any
) -> None:
    from portal.offices.service import create_round

    with app.app_context():
        create_round("r2", name="第二轮巡察")
        db.session.commit()
    client = staff_login("supervisor")
    assert "乙单位" in client.get("/staff/routing?round=r1").get_data(as_text=True)
    empty = client.get("/staff/routing?round=r2").get_data(as_text=True)
    assert desk.unrouted in empty and "分给乙单位" not in empty
    assert client.get("/staff/routing?round=nope").status_code == 303


def test_the_guesser_is_confident_only_on_a_clear_text(app: Flask, desk: Setup) -> None:
    from portal.intake.office_routing import guess_office

    with app.app_context():
        clear = guess_office(HOUSING_TEXT, None)  # through intake's hook: registered at start-up
        assert clear is not None and clear.confident
        assert clear.office_id == desk.b_id and clear.notice_id == desk.b_notice
        assert [c[0] for c in clear.candidates][:1] == [desk.b_id]
        shared = guess_office(SHARED_TEXT, None)
        assert shared is not None and not shared.confident
        assert {c[0] for c in shared.candidates} == {desk.a_id, desk.b_id}
        assert guess_office(NOWHERE_TEXT, None) is None
        assert guess_office("", None) is None


def test_confidence_needs_strength_and_a_lead_over_every_other_office() -> None:
    strong, margin = office_guess.STRONG, office_guess.MARGIN
    assert office_guess.is_confident(strong, None)
    assert not office_guess.is_confident(strong - 0.01, None)
    assert office_guess.is_confident(1.0, 1.0 - margin - 1e-9)
    assert not office_guess.is_confident(1.0, 1.0 - margin + 1e-9)
    assert office_guess.score_word(strong) == "强"
    assert office_guess.score_word(0.6) == "中" and office_guess.score_word(0.4) == "弱"


# --- accuracy on the dev and held-out splits -----------------------------------------------------

SPLIT_NOTICES = {
    "procuratorate": SEED_NOTICE,
    "housing": HOUSING_NOTICE,
    "education": DATA / "notices" / "b-compact-straight-quotes.txt",
    "health": DATA / "notices" / "c-district-footer.txt",
    "market": DATA / "notices" / "a-fullwidth-crlf.txt",
}


def _decisions(app: Flask, split: str) -> tuple[int, int, int]:
    """(right, confidently wrong, total): right = confident on the labelled office, or not
    confident where the text belongs to no single office (label null)."""
    from portal.notices.service import import_notice
    from portal.offices.service import create_office

    rows = [json.loads(line) for line in (DATA / "office_routing" / f"{split}.jsonl").open()]
    with app.app_context():
        slugs = {}
        for slug, path in SPLIT_NOTICES.items():
            office = create_office(slug, name=slug)
            import_notice(path.read_text(), slug=f"{slug}-notice", publish=True, office=office)
            slugs[office.id] = slug
        db.session.commit()
        right = wrong = 0
        for row in rows:
            guess = office_guess.guess_office(row["text"], None)
            chosen = slugs[guess.office_id] if guess is not None and guess.confident else None
            right += chosen == row["office"]
            wrong += chosen is not None and chosen != row["office"]
    return right, wrong, len(rows)


def test_dev_split_routes_nothing_to_the_wrong_office(app: Flask) -> None:
    right, wrong, total = _decisions(app, "dev")
    print(f"office routing dev: {right}/{total} right, {wrong} confidently wrong")
    assert wrong == 0 and right >= 32  # what STRONG and MARGIN were chosen for


def test_held_out_accuracy(app: Flask) -> None:
    """Never tuned on: at the time of writing 16 of 22 right, 2 confidently wrong (both a
    housing text the procuratorate's notice and the lexicon also match)."""
    right, wrong, total = _decisions(app, "heldout")
    print(f"office routing held-out: {right}/{total} right, {wrong} confidently wrong")
    assert right / total >= 0.7 and wrong <= 2


def test_desk_page_for_people(app: Flask, desk: Setup, staff_login: Any) -> None:
    client: FlaskClient = staff_login("supervisor")
    page = client.get("/staff/routing").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 2  # one-click and manual routing forms
    assert "电子邮件" in page and ">email<" not in page  # channel label, not its code
    assert "已接收" in page and ">received<" not in page
    assert " onclick=" not in page and "<script>" not in page  # CSP: no inline script
