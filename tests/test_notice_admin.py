"""Editors manage notices: preview with warnings, draft, publish, revise, withdraw, statuses,
feedback window, poster."""

from __future__ import annotations

import io
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.notices.diff import text_diff
from portal.notices.models import Notice
from tests.conftest import form_post


@pytest.fixture
def editor(staff_login: Any) -> Any:
    return staff_login("editor")


def save_draft(editor: Any, text: str, slug: str = "dg") -> Any:
    form_post(editor, "/staff/notices/new", {"text": text, "slug": slug, "step": "preview"})
    return form_post(editor, "/staff/notices/new", {"text": text, "slug": slug, "step": "save"})


def notice_row(app: Flask, slug: str) -> Notice:
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == slug))
        assert notice is not None
        _db.session.expunge(notice)
        return notice


def logged_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(_db.session.scalars(select(Event.action).order_by(Event.seq)))


def with_number_gap(seed_text: str) -> str:
    """The seed notice with finding 3 renumbered 5: the parser warns about the gap."""
    return seed_text.replace("3.针对", "5.针对", 1)


def test_preview_shows_the_parsed_structure_and_saves_nothing(
    app: Flask, editor: Any, seed_text: str, client: Any
) -> None:
    response = form_post(
        editor, "/staff/notices/new", {"text": seed_text, "slug": "dg", "step": "preview"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    first_finding = re.search(r"1\.针对“([^”]+)”", seed_text)
    assert first_finding and first_finding.group(1) in html
    assert "解析无警告" in html
    with app.app_context():
        assert _db.session.scalar(select(Notice)) is None


def test_preview_lists_warnings_with_their_lines(editor: Any, seed_text: str) -> None:
    text = with_number_gap(seed_text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("5.针对"))
    html = form_post(editor, "/staff/notices/new", {"text": text, "step": "preview"}).get_data(
        as_text=True
    )
    assert "解析警告" in html
    assert f"第{line}行" in html


def test_unreadable_text_is_refused_with_its_line(editor: Any) -> None:
    response = form_post(
        editor, "/staff/notices/new", {"text": "只有一行字，没有问题清单。", "step": "preview"}
    )
    assert response.status_code == 422
    assert "第1行" in response.get_data(as_text=True)
    assert "保存为草稿" not in response.get_data(as_text=True)


def test_upload_in_gb18030_is_read(editor: Any, seed_text: str) -> None:
    page = editor.get("/staff/notices/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = editor.post(
        "/staff/notices/new",
        data={
            "csrf_token": token,
            "step": "preview",
            "file": (io.BytesIO(seed_text.encode("gb18030")), "dongguan.txt"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    first_finding = re.search(r"1\.针对“([^”]+)”", seed_text)
    assert first_finding and first_finding.group(1) in response.get_data(as_text=True)


def test_draft_is_private_until_published(
    app: Flask, editor: Any, seed_text: str, client: Any
) -> None:
    response = save_draft(editor, seed_text)
    assert response.status_code == 302 and response.location == "/staff/notices/dg"
    assert client.get("/notices/dg").status_code == 404
    published = form_post(
        editor, "/staff/notices/dg/publish", {"confirmed": "yes"}, form_url="/staff/notices/dg"
    )
    assert published.status_code == 302
    assert client.get("/notices/dg").status_code == 200
    assert logged_actions(app)[-2:] == ["notice.import", "notice.publish"]


def test_a_notice_with_warnings_needs_an_explicit_check_before_publishing(
    editor: Any, seed_text: str, client: Any
) -> None:
    save_draft(editor, with_number_gap(seed_text))
    refused = form_post(editor, "/staff/notices/dg/publish", {}, form_url="/staff/notices/dg")
    assert refused.status_code == 400
    assert client.get("/notices/dg").status_code == 404
    ok = form_post(
        editor,
        "/staff/notices/dg/publish",
        {"warnings_checked": "y", "confirmed": "yes"},
        form_url="/staff/notices/dg",
    )
    assert ok.status_code == 302
    assert client.get("/notices/dg").status_code == 200


def test_an_existing_slug_is_not_silently_overwritten(
    editor: Any, seed_text: str, published_notice: str
) -> None:
    response = save_draft(editor, seed_text, slug=published_notice)
    assert response.status_code in (200, 422)
    assert "已被使用" in response.get_data(as_text=True)


def test_withdraw_answers_410_with_the_note(
    app: Flask, editor: Any, published_notice: str, client: Any
) -> None:
    url = f"/staff/notices/{published_notice}"
    empty = form_post(editor, f"{url}/withdraw", {"note": " "}, form_url=url)
    assert empty.status_code == 400
    note = "公示内容有误，更正后重新发布。<b>"
    response = form_post(editor, f"{url}/withdraw", {"note": note}, form_url=url)
    assert response.status_code == 302
    public = client.get(f"/notices/{published_notice}")
    assert public.status_code == 410
    assert "公示内容有误，更正后重新发布。&lt;b&gt;" in public.get_data(as_text=True)
    assert "notice.withdraw" in logged_actions(app)


def test_revision_is_live_and_its_diff_is_readable_and_escaped(
    app: Flask, editor: Any, published_notice: str, seed_text: str, client: Any
) -> None:
    url = f"/staff/notices/{published_notice}"
    new_line = "新增说明：<script>alert(1)</script>"
    revised = seed_text.replace("深入贯彻落实中央", "深入贯彻落实党中央", 1)
    revised += "\n" + new_line + "\n"
    preview = form_post(editor, f"{url}/revise", {"text": revised, "step": "preview"})
    assert "与当前版本相比的改动" in preview.get_data(as_text=True)
    saved = form_post(
        editor, f"{url}/revise", {"text": revised, "step": "save", "note": "更正表述"}
    )
    assert saved.status_code == 302
    assert "深入贯彻落实党中央" in client.get(f"/notices/{published_notice}").get_data(as_text=True)
    diff = editor.get(f"{url}/revisions/2").get_data(as_text=True)
    assert "<script>alert(1)" not in diff
    assert "@@" not in diff  # no unified-diff headers for people
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in diff
    assert re.search(r'class="d-add">.*深入贯彻落实党中央', diff)
    assert re.search(r'class="d-del">.*深入贯彻落实中央', diff)
    assert "notice.revise" in logged_actions(app)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8), st.lists(st.text(max_size=12), max_size=8))
def test_diff_keeps_every_line_of_both_texts(old: list[str], new: list[str]) -> None:
    old_text, new_text = "\n".join(old), "\n".join(new)
    lines = text_diff(old_text, new_text, context=10_000)
    kept_old = [line.text for line in lines if line.kind in ("ctx", "del")]
    kept_new = [line.text for line in lines if line.kind in ("ctx", "add")]
    if old_text.splitlines() != new_text.splitlines():  # "0" and "0\n" have the same lines
        assert kept_old == old_text.splitlines()
        assert kept_new == new_text.splitlines()


def test_finding_status_history_is_public_and_dated(
    app: Flask, editor: Any, published_notice: str, client: Any
) -> None:
    url = f"/staff/notices/{published_notice}"
    steps = [("整改中", "2024-02-10", "已制定方案"), ("已完成", "2024-05-20", "制度已印发<i>")]
    for status, day, note in steps:
        response = form_post(
            editor,
            f"{url}/findings/2/status",
            {"status": status, "effective_on": day, "note": note},
            form_url=url,
        )
        assert response.status_code == 302
    bad = form_post(
        editor,
        f"{url}/findings/2/status",
        {"status": "随便", "effective_on": "2024-05-21", "note": "x"},
        form_url=url,
    )
    assert bad.status_code == 400
    html = client.get(f"/notices/{published_notice}").get_data(as_text=True)
    article = re.search(r'<article id="finding-2".*?</article>', html, re.S).group(0)
    assert "2024年2月10日" in article and "2024年5月20日" in article
    assert article.index("已制定方案") < article.index("制度已印发&lt;i&gt;")
    other = re.search(r'<article id="finding-1".*?</article>', html, re.S).group(0)
    assert "已制定方案" not in other
    data = client.get(f"/notices/{published_notice}.json").get_json()
    finding = next(f for c in data["categories"] for f in c["findings"] if f["number"] == 2)
    assert finding["status"] == "已完成"
    assert logged_actions(app).count("finding.status") == 2


def test_feedback_window_is_entered_in_shanghai_time(
    app: Flask, editor: Any, published_notice: str
) -> None:
    url = f"/staff/notices/{published_notice}"
    window = {"opens": "2024-03-01T08:00", "closes": "2024-03-31T18:00"}
    assert form_post(editor, f"{url}/window", window, form_url=url).status_code == 302
    notice = notice_row(app, published_notice)
    opens = notice.feedback_opens_at.replace(tzinfo=notice.feedback_opens_at.tzinfo or UTC)
    assert opens.astimezone(UTC) == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert "2024-03-31 18:00" in editor.get(url).get_data(as_text=True)
    backwards = {"opens": "2024-03-31T18:00", "closes": "2024-03-01T08:00"}
    assert form_post(editor, f"{url}/window", backwards, form_url=url).status_code == 400
    cleared = form_post(editor, f"{url}/window", {"opens": "", "closes": ""}, form_url=url)
    assert cleared.status_code == 302
    assert notice_row(app, published_notice).feedback_closes_at is None


@pytest.mark.config(PUBLIC_BASE_URL="https://jc.example.gov.cn/")
def test_poster_is_a4_with_a_qr_code_to_the_feedback_form(
    editor: Any, published_notice: str
) -> None:
    response = editor.get(f"/staff/notices/{published_notice}/poster")
    html = response.get_data(as_text=True)
    target = f"https://jc.example.gov.cn/notices/{published_notice}/feedback"
    assert response.status_code == 200
    assert target in html
    assert 'class="poster-qr" src="data:image/svg+xml' in html
    assert "<script>" not in html and " style=" not in html  # CSP: no inline code
    css = editor.get("/static/css/poster.css").get_data(as_text=True)
    assert "size: A4" in css


@pytest.mark.config(PUBLIC_BASE_URL="https://jc.example.gov.cn/")
def test_poster_downloads_as_a_one_page_a4_pdf(editor: Any, published_notice: str) -> None:
    response = editor.get(f"/staff/notices/{published_notice}/poster.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert "attachment" in response.headers["Content-Disposition"]
    # One A4 page (595 x 842 points); PDF 1.7 keeps page objects in compressed streams.
    objects = pdf_objects(response.data)
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", objects)) == 1
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+595(?:\.\d+)?\s+(?:841\.\d+|842)\b", objects)
    started_elsewhere = {"Sec-Fetch-Site": "cross-site"}  # printing is recorded: never forged
    url = f"/staff/notices/{published_notice}/poster.pdf"
    assert editor.get(url, headers=started_elsewhere).status_code == 403


def pdf_objects(data: bytes) -> bytes:
    """The PDF's raw bytes plus every Flate stream decompressed (enough to find page objects)."""
    parts = [data]
    for match in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(data[match.end() :]))
        except zlib.error:
            continue
    return b"\n".join(parts)


# --- notices per office --------------------------------------------------------------------------

B_TEXT = (Path(__file__).parent / "data" / "notices" / "b-compact-straight-quotes.txt").read_text(
    encoding="utf-8"
)
B_SLUG = "nanhai-b"
# Every page and action about one notice: another office's notice must answer 404 on each.
SLUG_PAGES = [
    ("GET", "/staff/notices/{slug}"),
    ("GET", "/staff/notices/{slug}/revise"),
    ("POST", "/staff/notices/{slug}/revise"),
    ("POST", "/staff/notices/{slug}/publish"),
    ("POST", "/staff/notices/{slug}/withdraw"),
    ("GET", "/staff/notices/{slug}/revisions/1"),
    ("POST", "/staff/notices/{slug}/findings/1/status"),
    ("POST", "/staff/notices/{slug}/window"),
    ("GET", "/staff/notices/{slug}/poster"),
    ("GET", "/staff/notices/{slug}/poster.pdf"),
]


@pytest.fixture
def office_b(app: Flask) -> int:
    """A second office with a published notice in round r5 (office A is the default one)."""
    from portal.notices.service import import_notice, set_finding_status
    from portal.offices.service import create_office, create_round

    with app.app_context():
        office = create_office("nanhai", name="南海区教育局", short_name="南海教育")
        found = create_round("r5", name="第五轮巡察")
        create_round("r6", name="第六轮巡察")
        notice = import_notice(B_TEXT, slug=B_SLUG, publish=True, office=office, round_=found)
        finding = notice.notice.findings[0]
        set_finding_status(
            finding, status="已完成", effective_on=datetime(2024, 3, 1).date(), note="", actor="t"
        )
        _db.session.commit()
        return office.id


def test_an_editor_lists_and_opens_only_the_notices_of_its_offices(
    editor: Any, office_b: int, published_notice: str
) -> None:
    listing = editor.get("/staff/notices/").get_data(as_text=True)
    assert f"/staff/notices/{published_notice}" in listing
    assert B_SLUG not in listing and "南海" not in listing
    for method, template in SLUG_PAGES:
        url = template.format(slug=B_SLUG)
        if method == "GET":
            response = editor.get(url)
        else:
            response = form_post(editor, url, {"note": "x"}, form_url="/staff/notices/")
        assert response.status_code == 404, (method, url, response.status_code)


def test_reading_an_office_without_editing_it_is_a_403(
    app: Flask, staff_login: Any, make_user: Any, office_b: int, published_notice: str
) -> None:
    from portal.offices.service import office_by_slug
    from portal.staff.models import User
    from portal.staff.service import set_membership

    user = make_user("editor")  # editor of the default office
    with app.app_context():
        row = _db.session.get(User, user.id)
        set_membership(row, office_by_slug("nanhai"), "viewer", actor="test")
        _db.session.commit()
    client = staff_login("editor", user=user)
    assert client.get(f"/staff/notices/{B_SLUG}").status_code == 403
    assert client.get(f"/staff/notices/{published_notice}").status_code == 200


def test_the_list_shows_office_round_and_finding_status_counts(
    app: Flask, staff_login: Any, office_b: int, published_notice: str
) -> None:
    from collections import Counter

    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == B_SLUG))
        expected = Counter(f.status or "未标注" for f in notice.findings if f.active)
    assert expected["已完成"] >= 1 and len(expected) >= 2  # the test means something
    admin = staff_login("admin")
    html = admin.get("/staff/notices/").get_data(as_text=True)
    row = html.split(f"/staff/notices/{B_SLUG}")[1].split("</tr>")[0]
    assert '<td class="notice-office">南海教育</td>' in row
    assert '<td class="notice-round">第五轮巡察</td>' in row
    badges = re.findall(r'<span class="badge status-badge">([^<]+) (\d+)</span>', row)
    assert {status: int(n) for status, n in badges} == expected
    assert badges[-1][0] == "未标注" or "未标注" not in expected  # no status yet comes last
    seed_row = html.split(f"/staff/notices/{published_notice}")[1].split("</tr>")[0]
    assert '<td class="notice-office">巡察整改办公室</td>' in seed_row
    assert '<td class="notice-round">—</td>' in seed_row


def test_the_new_form_offers_only_the_editors_offices(
    app: Flask, staff_login: Any, make_user: Any, office_b: int, seed_text: str
) -> None:
    one = staff_login("editor")
    form = one.get("/staff/notices/new").get_data(as_text=True)
    options = re.findall(
        r"<option([^>]*)>([^<]+)</option>", form.split('name="office"')[1].split("</select>")[0]
    )
    assert [label for _attrs, label in options] == ["巡察整改办公室"]
    assert "selected" in options[0][0]  # the only office is preselected
    assert "第五轮巡察" in form and "第六轮巡察" in form
    # A forged office id (office B's) is refused in Chinese and the typed text is kept.
    forged = form_post(
        one,
        "/staff/notices/new",
        {"text": seed_text, "slug": "forged", "step": "save", "office": str(office_b)},
    )
    assert forged.status_code == 400
    body = forged.get_data(as_text=True)
    assert "请选择您负责的单位。" in body and "东莞市人民检察院" in body
    with app.app_context():
        assert _db.session.scalar(select(Notice).where(Notice.slug == "forged")) is None


def test_an_editor_of_two_offices_imports_into_the_chosen_office_and_round(
    app: Flask, staff_login: Any, make_user: Any, office_b: int, seed_text: str
) -> None:
    user = make_user("editor", offices=["main", "nanhai"])
    client = staff_login("editor", user=user)
    form = client.get("/staff/notices/new").get_data(as_text=True)
    select_html = form.split('name="office"')[1].split("</select>")[0]
    assert "南海区教育局" in select_html and "selected" not in select_html  # a real choice
    data = {"text": seed_text, "slug": "dg-b", "office": str(office_b), "round": "r6"}
    preview = form_post(client, "/staff/notices/new", {**data, "step": "preview"})
    html = preview.get_data(as_text=True)
    assert '<dd class="preview-office">南海区教育局</dd>' in html
    assert '<dd class="preview-round">第六轮巡察</dd>' in html
    saved = form_post(client, "/staff/notices/new", {**data, "step": "save"})
    assert saved.status_code == 302
    notice = notice_row(app, "dg-b")
    with app.app_context():
        row = _db.session.get(Notice, notice.id)
        assert row.office_id == office_b and row.round.slug == "r6"
    # Revising keeps the office and may change or clear the round.
    revise = {"text": seed_text, "round": "", "step": "save"}
    assert form_post(client, "/staff/notices/dg-b/revise", revise).status_code == 302
    with app.app_context():
        row = _db.session.get(Notice, notice.id)
        assert row.office_id == office_b and row.round_id is None
    assert "notice.round" in logged_actions(app)


def test_a_supervisor_is_not_an_editor(staff_login: Any, office_b: int) -> None:
    supervisor = staff_login("supervisor")
    assert supervisor.get("/staff/notices/").status_code == 403
    assert supervisor.get(f"/staff/notices/{B_SLUG}").status_code == 403
