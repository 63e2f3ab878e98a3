"""The editor's side of issue 14: upload in every format, the preview that shows everything that
will be published, the line-role editor, the publish confirmation, change notes and what a reader
sees of a revision, and each finding's explicit status."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.extensions import db as _db
from portal.notices.diff import sentence_diff, sentences
from portal.notices.forms import chosen_roles, decode_given, encode_given
from portal.notices.models import Notice, NoticeRevision
from portal.notices.parse import ROLES, NoticeParseError, parse_notice
from portal.notices.preview import shown_roles
from tests.conftest import csrf_token_from, form_post
from tests.test_notice_formats import make_docx, make_page, make_pdf

# A notice the importer cannot structure on its own: its findings are headed "1.惠农补贴…"
# under a section it does not know as the findings section, so it reads them as narrative.
MISREAD = """云川市农业农村局党组关于巡察整改进展情况的通报
根据市委统一部署，市委第二巡察组于2024年3月对云川市农业农村局党组开展了巡察。现将整改进展情况公布如下。
一、整改工作开展情况
局党组召开专题会议研究部署整改工作，制定整改方案。
二、具体整改推进情况
1.惠农补贴发放审核把关不严。
一是对2023年发放的补贴逐户复核；二是建立补贴发放公示制度。
2.农村集体“三资”监管薄弱。
一是开展农村集体资产清查；二是上线“三资”监管平台。
3.项目验收流于形式。
一是修订项目验收办法；二是引入第三方复核。
欢迎社会各界监督。联系电话：0763-2660001；电子邮箱：nyj@yunchuan.gov.cn；通信地址：云川市农业路1号；邮政编码：511500。
中共云川市农业农村局党组
2024年6月10日
"""
MISREAD_FINDING_LINES = (6, 8, 10)
FIX = {f"role-{line}": "finding" for line in MISREAD_FINDING_LINES}


@pytest.fixture
def editor(staff_login: Any) -> Any:
    return staff_login("editor")


def upload(editor: Any, data: bytes, name: str, mimetype: str) -> Any:
    token = csrf_token_from(editor.get("/staff/notices/new").get_data(as_text=True))
    return editor.post(
        "/staff/notices/new",
        data={"csrf_token": token, "step": "preview", "file": (io.BytesIO(data), name, mimetype)},
        content_type="multipart/form-data",
    )


def grab(pattern: str, html: str) -> str:
    """The first group of pattern in html (the whole match when it has none); fails if absent."""
    match = re.search(pattern, html, re.S)
    assert match, pattern
    return match.group(1) if match.groups() else match.group(0)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def preview_round_trip(editor: Any, page: str, step: str, **fields: str) -> Any:
    """Post the preview page's form back as a browser does without JS: every hidden field and
    every role select as shown, then the fields given here."""
    from html import unescape

    data = {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    for line, role in re.findall(
        r'<select id="role-(\d+)" name="role-\d+" data-shown="(\w+)"', page
    ):
        data[f"role-{line}"] = role
    data.update(fields)
    data["step"] = step
    return editor.post("/staff/notices/new", data=data)


# --------------------------------------------------------------------------- upload


@pytest.mark.parametrize(
    ("make", "name", "mimetype"),
    [
        (lambda text: text.encode("gb18030"), "notice.txt", "text/plain"),
        (make_docx, "notice.docx", "application/octet-stream"),
        (make_pdf, "notice.pdf", "application/pdf"),
        (make_page, "notice.html", "text/html"),
    ],
    ids=["txt", "docx", "pdf", "html"],
)
def test_each_upload_format_previews_the_notices_structure(
    editor: Any, seed_text: str, make: Any, name: str, mimetype: str
) -> None:
    response = upload(editor, make(seed_text), name, mimetype)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:2000]
    expected = parse_notice(seed_text)
    assert expected.title in html
    for finding in expected.findings:
        assert finding.title in html
    counts = re.search(r'class="preview-counts">([^<]+)<', html)
    measures = sum(len(f.measures) for f in expected.findings)
    assert counts and f"问题 {len(expected.findings)} 个" in counts.group(1)
    assert f"整改措施 {measures} 条" in counts.group(1)


def test_an_unreadable_upload_is_the_file_fields_error_in_chinese(editor: Any) -> None:
    response = upload(editor, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "scan.png", "image/png")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(r'id="file-error">([^<]+)<', html)
    assert error and "图片" in error.group(1)


def test_an_upload_over_the_cap_names_the_limit(editor: Any, seed_text: str) -> None:
    big = seed_text.encode("utf-8") * (10 * 1024 * 1024 // len(seed_text.encode("utf-8")) + 1)
    response = upload(editor, big, "big.txt", "text/plain")
    assert response.status_code == 400
    assert "10MB" in response.get_data(as_text=True)


# --------------------------------------------------------------------------- preview


def test_preview_shows_the_preamble_measures_and_what_is_dropped(editor: Any) -> None:
    text = "当前位置：首页 > 信息公开 > 巡察整改\n" + MISREAD  # pasted with the breadcrumb
    page = form_post(editor, "/staff/notices/new", {"text": text, "step": "preview"})
    html = page.get_data(as_text=True)
    # Unstructured: the role editor offers every line, with Chinese role names only.
    assert page.status_code == 422
    assert 'name="role-7"' in html and ">问题<" in html and ">整改措施<" in html
    assert ">finding<" not in html
    moved = {f"role-{line + 1}": "finding" for line in MISREAD_FINDING_LINES}
    fixed = preview_round_trip(editor, html, "preview", **moved)
    html = fixed.get_data(as_text=True)
    assert fixed.status_code == 200, html[:3000]
    body = re.search(
        r'class="preview-body">.*?</div>\s*</section>|class="preview-body">.*', html, re.S
    )
    assert body
    assert "根据市委统一部署" in body.group(0)  # the preamble is published too
    assert "建立补贴发放公示制度" in body.group(0)
    assert "0763-2660001" in html
    dropped = re.search(r'class="preview-dropped".*?</section>', html, re.S)
    assert dropped and "当前位置：首页" in dropped.group(0) and "不会发布" in dropped.group(0)


def test_warnings_are_listed_once_and_link_to_their_line(editor: Any, seed_text: str) -> None:
    text = seed_text.replace("3.针对", "5.针对", 1)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("5.针对"))
    html = form_post(editor, "/staff/notices/new", {"text": text, "step": "preview"}).get_data(
        as_text=True
    )
    items = re.findall(r'<ul class="warning-list">(.*?)</ul>', html, re.S)[0]
    assert f'<a href="#line-{line}">第{line}行</a>' in items
    assert f"第{line}行：第{line}行" not in html
    assert f'id="line-{line}"' in html


# --------------------------------------------------------------------------- role editor


def test_a_notice_the_importer_cannot_structure_is_published_through_the_role_editor(
    app: Flask, editor: Any, client: Any
) -> None:
    first = form_post(
        editor, "/staff/notices/new", {"text": MISREAD, "slug": "nyj", "step": "preview"}
    )
    html = first.get_data(as_text=True)
    assert first.status_code == 422
    assert "保存为草稿" not in html  # nothing to save until the structure is right
    fixed = preview_round_trip(editor, html, "preview", **FIX)
    html = fixed.get_data(as_text=True)
    assert fixed.status_code == 200
    assert "农村集体“三资”监管薄弱" in html and "上线“三资”监管平台" in html
    # The choices travel with the page: the next round trip keeps them without resending.
    assert decode_given(hidden(html, "given_roles")) == {
        n: "finding" for n in MISREAD_FINDING_LINES
    }
    assert html.count("已手动指定") == len(MISREAD_FINDING_LINES)
    saved = preview_round_trip(editor, html, "save")
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == "nyj"))
        assert notice is not None
        assert [f.title for f in notice.findings] == [
            "惠农补贴发放审核把关不严",
            "农村集体“三资”监管薄弱",
            "项目验收流于形式",
        ]
        assert [m.text for m in notice.findings[1].measures] == [
            "开展农村集体资产清查",
            "上线“三资”监管平台。",
        ]
        assert notice.revisions[-1].line_roles == {str(n): "finding" for n in MISREAD_FINDING_LINES}


def test_only_the_changed_roles_need_to_be_sent(app: Flask, editor: Any) -> None:
    saved = form_post(
        editor, "/staff/notices/new", {"text": MISREAD, "slug": "nyj", "step": "save", **FIX}
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == "nyj"))
        assert notice is not None
        assert [len(f.measures) for f in notice.findings] == [2, 2, 2]


def test_a_revision_starts_from_the_roles_given_before(app: Flask, editor: Any) -> None:
    html = form_post(
        editor, "/staff/notices/new", {"text": MISREAD, "slug": "nyj", "step": "preview"}
    ).get_data(as_text=True)
    html = preview_round_trip(editor, html, "preview", **FIX).get_data(as_text=True)
    assert preview_round_trip(editor, html, "save").status_code == 302
    revised = MISREAD.replace("制定整改方案。", "制定整改方案，明确责任分工。")
    again = form_post(editor, "/staff/notices/nyj/revise", {"text": revised, "step": "preview"})
    assert again.status_code == 200  # structured at once: the corrections were kept
    assert "农村集体“三资”监管薄弱" in again.get_data(as_text=True)


def test_going_back_to_the_text_keeps_the_role_choices(editor: Any) -> None:
    html = form_post(
        editor, "/staff/notices/new", {"text": MISREAD, "slug": "nyj", "step": "preview"}
    ).get_data(as_text=True)
    html = preview_round_trip(editor, html, "preview", **FIX).get_data(as_text=True)
    back = preview_round_trip(editor, html, "edit")
    entry = back.get_data(as_text=True)
    assert back.status_code == 200 and "云川市农业农村局党组关于" in entry  # the text is kept
    # One line added above the findings: the roles move down with their lines.
    text = MISREAD.replace("局党组召开", "局党组高度重视。\n局党组召开")
    token = csrf_token_from(entry)
    again = editor.post(
        "/staff/notices/new",
        data={
            "csrf_token": token,
            "text": text,
            "slug": "nyj",
            "step": "preview",
            "given_roles": hidden(entry, "given_roles"),
            "roles_text": hidden(entry, "roles_text").replace("&#34;", '"'),
        },
    )
    assert again.status_code == 200, again.get_data(as_text=True)[:2000]
    assert decode_given(hidden(again.get_data(as_text=True), "given_roles")) == {
        n + 1: "finding" for n in MISREAD_FINDING_LINES
    }


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=8))
def test_forged_role_fields_are_ignored(fields: dict[str, str]) -> None:
    roles = chosen_roles(fields)
    assert all(role in ROLES and line >= 1 for line, role in roles.items())
    assert all(fields[f"role-{line}"] == role for line, role in roles.items())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(1, 999_999), st.sampled_from(ROLES), max_size=20))
def test_given_roles_survive_their_hidden_field(roles: dict[int, str]) -> None:
    assert decode_given(encode_given(roles)) == roles


@given(st.text(max_size=60))
def test_a_forged_hidden_field_never_raises(value: str) -> None:
    assert all(role in ROLES for role in decode_given(value).values())


# --------------------------------------------------------------------------- publishing


def test_publishing_asks_for_confirmation_with_title_and_counts(
    app: Flask, editor: Any, seed_text: str, client: Any
) -> None:
    form_post(editor, "/staff/notices/new", {"text": seed_text, "slug": "dg", "step": "save"})
    url = "/staff/notices/dg"
    first = form_post(editor, f"{url}/publish", {}, form_url=url)
    html = first.get_data(as_text=True)
    parsed = parse_notice(seed_text)
    assert first.status_code == 200
    assert client.get("/notices/dg").status_code == 404  # not yet
    assert re.search(r'class="confirm-title">[^<]*' + re.escape(parsed.title), html)
    assert f'class="confirm-categories">{len(parsed.categories)} 个' in html
    assert f'class="confirm-findings">{len(parsed.findings)} 个' in html
    measures = sum(len(f.measures) for f in parsed.findings)
    assert f'class="confirm-measures">{measures} 条' in html
    done = editor.post(
        f"{url}/publish", data={"csrf_token": csrf_token_from(html), "confirmed": "yes"}
    )
    assert done.status_code == 302
    assert client.get("/notices/dg").status_code == 200


def test_revising_a_published_notice_needs_a_change_note(
    app: Flask, editor: Any, published_notice: str, seed_text: str, client: Any
) -> None:
    url = f"/staff/notices/{published_notice}/revise"
    revised = seed_text.replace("深入贯彻落实中央", "深入贯彻落实党中央", 1)
    missing = form_post(editor, url, {"text": revised, "step": "save", "note": " "})
    html = missing.get_data(as_text=True)
    assert missing.status_code == 400
    assert "请填写修订说明" in html
    assert "深入贯彻落实党中央" in hidden(html, "text")  # nothing typed is lost
    too_long = form_post(
        editor, url, {"text": revised, "step": "save", "note": "改" * 301, "given_roles": ""}
    )
    assert too_long.status_code == 400 and "不能超过300字" in too_long.get_data(as_text=True)
    note = "更正措施表述<b>"
    saved = form_post(editor, url, {"text": revised, "step": "save", "note": note})
    assert saved.status_code == 302
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == published_notice))
        assert notice is not None and notice.revisions[-1].note == note


def test_the_public_page_says_when_and_why_it_was_revised_sentence_by_sentence(
    app: Flask, editor: Any, published_notice: str, seed_text: str, client: Any
) -> None:
    url = f"/staff/notices/{published_notice}/revise"
    revised = seed_text.replace("深入贯彻落实中央", "深入贯彻落实党中央", 1)
    form_post(editor, url, {"text": revised, "step": "save", "note": "更正措施表述"})
    with app.app_context():
        revision = _db.session.scalars(select(NoticeRevision).order_by(NoticeRevision.id)).all()[-1]
        # 23:30 UTC is the next morning in Shanghai: the date a reader there saw the change.
        from datetime import UTC, datetime

        revision.created_at = datetime(2024, 3, 4, 23, 30, tzinfo=UTC)
        notice = revision.notice
        notice.published_at = datetime(2024, 2, 2, 8, 0, tzinfo=UTC)
        notice.version += 1
        _db.session.commit()
    html = client.get(f"/notices/{published_notice}").get_data(as_text=True)
    note = re.search(r'<section class="revision-note".*?</section>', html, re.S)
    assert note, html[:3000]
    block = note.group(0)
    assert "修订于2024年3月5日" in block and "更正措施表述" in block
    assert "@@" not in html
    removed = re.findall(r'class="s-del">.*?<del>(.*?)</del>', block, re.S)
    added = re.findall(r'class="s-add">.*?<ins>(.*?)</ins>', block, re.S)
    assert len(removed) == 1 and len(added) == 1
    assert "深入贯彻落实中央" in removed[0] and "深入贯彻落实党中央" in added[0]
    assert len(added[0]) < 300  # one sentence, not the paragraph


def test_a_draft_revision_is_not_shown_as_revised(
    app: Flask, editor: Any, seed_text: str, client: Any
) -> None:
    form_post(editor, "/staff/notices/new", {"text": seed_text, "slug": "dg", "step": "save"})
    form_post(
        editor,
        "/staff/notices/dg/revise",
        {"text": seed_text.replace("深入贯彻落实中央", "深入贯彻落实党中央", 1), "step": "save"},
    )
    url = "/staff/notices/dg"
    editor.post(
        f"{url}/publish",
        data={
            "csrf_token": csrf_token_from(editor.get(url).get_data(as_text=True)),
            "confirmed": "yes",
        },
    )
    html = client.get("/notices/dg").get_data(as_text=True)
    assert "修订于" not in html


def test_sentence_diff_shows_only_changed_sentences() -> None:
    old = "一是建立台账。二是开展排查；三是完善制度！\n联系电话：123"
    new = "一是建立台账。二是开展全面排查；三是完善制度！\n联系电话：123"
    changes = sentence_diff(old, new)
    assert [(c.kind, c.text) for c in changes] == [
        ("del", "二是开展排查；"),
        ("add", "二是开展全面排查；"),
    ]


@given(st.text(alphabet="甲乙。；！？\n ", max_size=40))
def test_sentences_keep_every_character_but_spaces(text: str) -> None:
    found = sentences(text)
    assert all(part and part == part.strip() for part in found)
    assert re.sub(r"\s", "", "".join(found)) == re.sub(r"\s", "", text)


# --------------------------------------------------------------------------- statuses


def test_each_finding_shows_its_status_with_a_date_or_not_updated(
    app: Flask, editor: Any, published_notice: str, client: Any
) -> None:
    url = f"/staff/notices/{published_notice}"
    form_post(
        editor,
        f"{url}/findings/2/status",
        {"status": "整改中", "effective_on": "2024-02-10", "note": "已制定方案"},
        form_url=url,
    )
    html = client.get(f"/notices/{published_notice}").get_data(as_text=True)
    two = grab(r'<article id="finding-2".*?</article>', html)
    status = grab(r'class="finding-status">(.*?)</p>', two)
    assert "整改中" in status and "2024年2月10日" in status
    one = grab(r'<article id="finding-1".*?</article>', html)
    assert "未更新" in grab(r'class="finding-status">(.*?)</p>', one)
    assert ">整改进展<" not in html  # the old pill that said nothing


def test_labels_and_descriptions_are_shown_as_written(app: Flask, client: Any) -> None:
    from pathlib import Path

    from portal.notices.service import import_notice

    text = (Path(__file__).parent / "data" / "notices" / "g-hospital-descriptions.txt").read_text(
        encoding="utf-8"
    )
    parsed = parse_notice(text)
    described = next(f for f in parsed.findings if f.description)
    with app.app_context():
        import_notice(text, slug="hospital", publish=True)
        notice = _db.session.scalar(select(Notice).where(Notice.slug == "hospital"))
        assert notice is not None
        notice.state = "published"
        _db.session.commit()
    html = client.get("/notices/hospital").get_data(as_text=True)
    article = grab(rf'<article id="finding-{described.number}".*?</article>', html)
    assert described.description.split("。")[0] in article
    label = grab(r'class="finding-number">([^<]+)<', article)
    assert label.rstrip(".") == described.label


def test_finding_status_falls_back_to_the_notices_own_wording() -> None:
    from types import SimpleNamespace

    from portal.notices.history import finding_status

    worded = SimpleNamespace(status_history=[], status="已完成整改")
    assert finding_status(worded, date(2024, 2, 2)) == ("已完成整改", date(2024, 2, 2))  # type: ignore[arg-type]
    silent = SimpleNamespace(status_history=[], status=None)
    assert finding_status(silent, date(2024, 2, 2)) == (None, None)  # type: ignore[arg-type]


def test_parse_error_keeps_line_roles_for_the_editor() -> None:
    with pytest.raises(NoticeParseError) as caught:
        parse_notice(MISREAD)
    assert {r.line for r in caught.value.line_roles} >= set(MISREAD_FINDING_LINES)


def test_sub_items_keep_their_own_status_and_restarted_numbering_its_label(
    app: Flask, client: Any
) -> None:
    from pathlib import Path

    from portal.notices.service import import_notice

    text = (Path(__file__).parent / "data" / "notices" / "e-county-subitems.txt").read_text(
        encoding="utf-8"
    )
    parsed = parse_notice(text)
    with app.app_context():
        result = import_notice(text, slug="county", publish=True)
        result.notice.state = "published"
        _db.session.commit()
    html = client.get("/notices/county").get_data(as_text=True)
    first = parsed.findings[0]
    article = grab(r'<article id="finding-1".*?</article>', html)
    items = re.findall(r"<li>(.*?)</li>", grab(r'<ol class="measures">(.*?)</ol>', article), re.S)
    shown = [re.findall(r'class="badge status-badge">([^<]+)<', item) for item in items]
    assert shown == [[m.status] if m.status else [] for m in first.measures]
    restarted = next(f for f in parsed.findings if f.label != str(f.number))
    other = grab(rf'<article id="finding-{restarted.number}".*?</article>', html)
    assert grab(r'class="finding-number">([^<]+)<', other) == f"{restarted.label}."


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.integers(1, 16), st.sampled_from(ROLES), max_size=8))
def test_any_role_choice_previews_and_is_shown_as_chosen(
    editor: Any, roles: dict[int, str]
) -> None:
    """Whatever roles an editor picks, the preview answers (structured or not, never a 500) and
    shows each line with the role picked for it. A select left at the role the page showed is
    no choice (a form without script sends every select): such a line may follow a line that
    was changed, as a finding's measures do."""
    fields = {f"role-{line}": role for line, role in roles.items()}
    response = form_post(
        editor, "/staff/notices/new", {"text": MISREAD, "step": "preview", **fields}
    )
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 422), html[:2000]
    shown = dict(re.findall(r'<select id="role-(\d+)" name="role-\d+" data-shown="(\w+)"', html))
    showed_before = {row.line: row.role for row in shown_roles(MISREAD, {})}
    for line, role in roles.items():
        if str(line) in shown and showed_before.get(line) != role:  # lines 15, 16 do not exist
            assert shown[str(line)] == role
