"""Words, not codes (issue 18): the staff pages a triager works in never show a raw code.

A realistic office: an opinion through every channel, in every status, with notes,
assignments, confirmed and dismissed findings, a reply, a follow-up and a referral. Every
page below is rendered for an admin (who sees everything) and its visible text — tags,
attributes, scripts and styles left out — is scanned for the codes of the known code lists:
statuses, channels, audit action names and "user:<id>:<email>" actors.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.intake.models import CHANNELS, Submission
from portal.labels import ACTION_LABELS
from portal.notices.models import Notice
from portal.triage.workflow import STATUSES
from tests.conftest import form_post

CODES = sorted({*STATUSES, *CHANNELS, *ACTION_LABELS}, key=len, reverse=True)
RAW = re.compile(
    r"user:\d+:|(?<![\w.@/-])(?:" + "|".join(re.escape(c) for c in CODES) + r")(?![\w@/-])"
)


class _Visible(HTMLParser):
    """The text a person reads: data outside script/style, never attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def raw_codes(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return RAW.findall(" ".join(parser.parts))


def test_the_scanner_finds_codes_in_text_but_not_in_attributes() -> None:
    assert raw_codes("<td>web</td><td>in_progress</td>") == ["web", "in_progress"]
    assert raw_codes("<span>user:3:a@b.test</span>") == ["user:3:"]
    assert raw_codes("<p>reply.send</p>") == ["reply.send"]
    assert raw_codes('<tr class="status-received" data-code="web"><td>网上</td></tr>') == []
    assert raw_codes("<p>li@email.test</p><script>var web = 1;</script>") == []


@pytest.fixture
def office(app: Flask, published_notice: str, make_user: Any, staff_login: Any) -> Any:
    from portal.intake.service import Contact, Incoming, record_submission

    admin = make_user("admin")
    client = staff_login(user=admin)
    with app.app_context():
        notice = db.session.scalars(select(Notice).where(Notice.slug == published_notice)).one()
        codes = [
            record_submission(
                Incoming(
                    notice=notice,
                    channel=channel,
                    body="单位逢年过节给职工发放购物卡，工会经费被挪作他用，希望彻查。",
                    consent=True,
                    contact=Contact(name="李明", email="li@example.com", address="东莞市某路1号"),
                )
            ).code
            for channel in CHANNELS
        ]
        finding_id = notice.findings[0].id
        other_id = notice.findings[-1].id
    first = f"/staff/submissions/{codes[0]}"
    form_post(client, f"{first}/findings", {"finding": finding_id, "op": "confirm"}, form_url=first)
    form_post(client, f"{first}/suggestions/dismiss", {"finding": other_id}, form_url=first)
    form_post(client, f"{first}/notes", {"body": "先电话核实。"}, form_url=first)
    form_post(client, f"{first}/assign", {"assignee": admin.id}, form_url=first)
    form_post(client, f"{first}/status", {"status": "in_progress"}, form_url=first)
    form_post(
        client, f"{first}/reply", {"body": "经核实，已整改。", "publish": "1"}, form_url=first
    )
    second = f"/staff/submissions/{codes[1]}"
    form_post(
        client,
        f"{second}/refer",
        {"body_name": "市场监管局", "reason": "不属于本单位职责"},
        form_url=second,
    )
    with app.app_context():  # the rest of the statuses, set as the workflow would leave them
        rows = db.session.scalars(select(Submission).where(Submission.code.in_(codes[2:])))
        for row, status in zip(rows, ("waiting", "follow_up", "reopened", "closed"), strict=False):
            row.status = status
        db.session.commit()
    return client, codes


def _pages(codes: list[str]) -> list[str]:
    return [
        "/staff/",
        "/staff/queue",
        *(f"/staff/queue?status={s}" for s in STATUSES),
        *(f"/staff/queue?channel={c}" for c in CHANNELS),
        *(f"/staff/submissions/{code}" for code in codes),
        f"/staff/submissions/{codes[0]}/reply",
        "/staff/replies/pending",
        "/staff/routing",
        "/staff/dashboard",
        "/staff/notices/",
        "/staff/mail/quarantine",
        "/staff/intake/new",
        "/staff/users",
        # Not /staff/audit/: its details column is the raw forensic record (actions and actors
        # are in words there, tested in test_audit.py).
    ]


def test_no_page_of_the_triagers_day_shows_a_raw_code(app: Flask, office: Any) -> None:
    client, codes = office
    history = client.get(f"/staff/submissions/{codes[0]}").get_data(as_text=True)
    for words in ("经核实，已整改。", "先电话核实。", "确认关联问题", "驳回系统建议", "办理中"):
        assert words in history, words  # the office's day really happened
    assert "市场监管局" in client.get(f"/staff/submissions/{codes[1]}").get_data(as_text=True)
    found = {}
    for url in _pages(codes):
        response = client.get(url)
        assert response.status_code == 200, url
        hits = raw_codes(response.get_data(as_text=True))
        if hits:
            found[url] = sorted(set(hits))
    assert found == {}


def test_the_revision_list_names_who_revised(
    app: Flask, published_notice: str, make_user: Any, staff_login: Any
) -> None:
    from portal.notices.models import NoticeRevision

    editor = make_user("editor")
    with app.app_context():
        revision = db.session.scalars(select(NoticeRevision)).first()
        assert revision is not None
        revision.created_by = f"user:{editor.id}:{editor.email}"
        number = revision.number
        db.session.commit()
    client = staff_login(user=editor)
    for url in (
        f"/staff/notices/{published_notice}",
        f"/staff/notices/{published_notice}/revisions/{number}",
    ):
        html = client.get(url).get_data(as_text=True)
        assert editor.display_name in html, url
        assert raw_codes(html) == [] and "user:" not in html, url
