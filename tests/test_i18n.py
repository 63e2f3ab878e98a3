"""Internationalisation: Chinese by default, every UI string also in English (Flask-Babel).

The notice's own content is never translated, so the "no Chinese in English pages" checks run
against a notice whose content columns were overwritten with ASCII text after import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, String, Text, select

from portal.extensions import db as _db
from portal.notices.models import FINDING_STATUSES
from portal.site import choose_lang
from tests.conftest import form_post

PO_FILE = Path(__file__).resolve().parent.parent / "portal/translations/en/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
# Han ideographs, CJK punctuation (、。「」…), full-width forms (：，（）) and “CJK” quotes' kin.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
BODY = "Please publish the procurement review report so the public can check it."


# --- (a) the catalogue ---------------------------------------------------------------------------


def _catalog() -> Any:
    with PO_FILE.open("rb") as handle:
        return read_po(handle)


def test_every_msgid_has_an_english_msgstr_with_the_same_placeholders() -> None:
    messages = [m for m in _catalog() if m.id]
    assert len(messages) > 400  # the whole UI, not just the error pages
    for message in messages:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"untranslated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        for msgstr in strings:
            assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(ids[0])), (
                message.id
            )
            assert not CJK.search(msgstr.replace("“", "").replace("”", "")), msgstr
            # HTML inside a message (links) must survive translation.
            assert re.findall(r"<[^>]+>", msgstr) == re.findall(r"<[^>]+>", ids[0])


# --- (c) choosing the language -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-CN", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en;q=0.5,zh-CN;q=0.9", "zh"),
        ("fr-FR", "zh"),
    ],
)
def test_accept_language_picks_the_language(header: str | None, expected: str) -> None:
    assert choose_lang(None, header) == expected


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_any_accept_language_header_gives_a_supported_language(header: str) -> None:
    assert choose_lang(None, header) in ("en", "zh")
    assert choose_lang("en", header) == "en"
    assert choose_lang("zh", header) == "zh"


def test_the_header_chooses_the_page_language(client: FlaskClient) -> None:
    default = client.get("/track").get_data(as_text=True)
    chinese = client.get("/track", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    english = client.get("/track", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN"' in default and "查询办理进度" in default
    assert '<html lang="zh-CN"' in chinese and "查询办理进度" in chinese
    assert '<html lang="en"' in english and "Track progress" in english
    assert "查询办理进度" not in english


def test_the_query_parameter_beats_the_header(client: FlaskClient) -> None:
    page = client.get("/track?lang=zh", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "查询办理进度" in page


def test_messages_translate_outside_a_request(app: Flask) -> None:
    """CLI and mail ingest share the one door: its refusals must not need a request."""
    from portal.intake.attachments import AttachmentRefused, check_file
    from portal.intake.service import IncomingFile

    with app.app_context(), pytest.raises(AttachmentRefused) as refused:
        check_file(IncomingFile("empty.pdf", b""))
    assert "empty.pdf" in str(refused.value.args[0]) and "空文件" in str(refused.value.args[0])


# --- (b) whole pages -----------------------------------------------------------------------------


class _Text(HTMLParser):
    """Visible text and attribute values, skipping parts marked as Chinese (lang="zh…")."""

    VOID: ClassVar[set[str]] = {
        "meta",
        "link",
        "input",
        "br",
        "img",
        "hr",
        "source",
        "area",
        "base",
        "col",
        "wbr",
    }

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._stack: list[bool] = []
        self.feed(html)

    def _inside_chinese(self) -> bool:
        return any(self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        chinese = (attributes.get("lang") or "").startswith("zh") and tag != "html"
        if not (chinese or self._inside_chinese()):
            skip = {"href", "src", "action", "value", "name", "id", "class", "content"}
            self.chunks += [v for k, v in attrs if v and k not in skip]
        if tag not in self.VOID:
            self._stack.append(chinese)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._inside_chinese():
            self.chunks.append(data)


def chinese_in(html: str) -> list[str]:
    return [c.strip() for c in _Text(html).chunks if CJK.search(c)]


def _asciify(value: Any, label: str) -> Any:
    if isinstance(value, str):
        return f"Content {label} {len(value)}" if CJK.search(value) else value
    if isinstance(value, list):
        return [_asciify(v, label) for v in value]
    if isinstance(value, dict):
        return {k: _asciify(v, f"{label}.{k}") for k, v in value.items()}
    return value


def _asciify_notice_content(app: Flask) -> None:
    """Replace every Chinese value the notice import stored, and the offices' names, with ASCII
    (content stays content)."""
    from portal.caching import clear_all
    from portal.notices import models
    from portal.offices import models as office_models

    with app.app_context():
        for mapper in _db.Model.registry.mappers:
            if mapper.class_.__module__ not in (models.__name__, office_models.__name__):
                continue
            columns = [
                c
                for c in mapper.columns
                if isinstance(c.type, String | Text | JSON) and not c.foreign_keys
            ]
            for row in _db.session.scalars(select(mapper.class_)):
                for column in columns:
                    value = getattr(row, column.key, None)
                    if value is not None:
                        setattr(row, column.key, _asciify(value, column.key))
        _db.session.commit()
    # Form pages, finding groups, routers and notice pages are cached per notice version in
    # the app; the ASCII rewrite changes the notice without a new version.
    clear_all(app)


@pytest.fixture
def ascii_notice(app: Flask, published_notice: str) -> Iterator[str]:
    _asciify_notice_content(app)
    yield published_notice


def _public_pages(client: FlaskClient, slug: str, lang: str) -> dict[str, str]:
    q = f"?lang={lang}"
    pages = {
        "index": client.get("/" + q),
        "notice": client.get(f"/notices/{slug}{q}"),
        "feedback": client.get(f"/notices/{slug}/feedback{q}"),
        "track": client.get("/track" + q),
        "404": client.get("/no-such-page" + q),
    }
    url = f"/notices/{slug}/feedback{q}"
    invalid = form_post(client, url, {"body": "short"})
    assert invalid.status_code == 422
    pages["feedback-errors"] = invalid
    wrong = form_post(client, "/track" + q, {"code": "ABCDE-FGH12", "secret": "1" * 16})
    pages["track-refused"] = wrong
    sent = form_post(client, url, {"body": BODY, "anonymous": "y"})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:300]
    pages["receipt"] = client.get("/feedback/receipt" + q)
    statuses = {name: r.status_code for name, r in pages.items()}
    assert statuses["404"] == 404 and statuses["receipt"] == 200, statuses
    return {name: r.get_data(as_text=True) for name, r in pages.items()}


def test_public_pages_in_english_show_no_chinese_outside_the_notice(
    client: FlaskClient, ascii_notice: str
) -> None:
    for name, html in _public_pages(client, ascii_notice, "en").items():
        assert '<html lang="en"' in html, name
        assert chinese_in(html) == [], name


def test_public_pages_in_chinese_are_still_chinese(client: FlaskClient, ascii_notice: str) -> None:
    pages = _public_pages(client, ascii_notice, "zh")
    expected = {
        "index": "巡察整改意见反馈",
        "notice": "对整改工作提意见",
        "feedback": "个人信息处理说明",
        "feedback-errors": "意见内容至少10个字，请写得具体一些。",
        "track": "请输入提交意见时得到的回执编号和16位查询密码。",
        "track-refused": "回执编号或查询密码不正确，请核对后重试。",
        "receipt": "查询密码只显示这一次，我们也无法找回。",
        "404": "页面不存在",
    }
    for name, text in expected.items():
        assert text in pages[name], name


def test_english_error_messages_come_from_the_catalogue(
    client: FlaskClient, ascii_notice: str
) -> None:
    pages = _public_pages(client, ascii_notice, "en")
    catalog = {m.id: m.string for m in _catalog() if m.id}
    too_short = catalog["意见内容至少%(n)s个字，请写得具体一些。"] % {"n": 10}
    assert too_short in pages["feedback-errors"].replace("&#39;", "'")
    assert catalog["回执编号或查询密码不正确，请核对后重试。"] in pages["track-refused"]


def test_staff_pages_in_english_show_no_chinese_outside_the_notice(
    app: Flask, ascii_notice: str, staff_login: Any
) -> None:
    anonymous = app.test_client()
    login = anonymous.get("/staff/login?lang=en").get_data(as_text=True)
    assert "Staff sign-in" in login and chinese_in(login) == []
    sent = form_post(
        anonymous, f"/notices/{ascii_notice}/feedback", {"body": BODY, "anonymous": "y"}
    )
    assert sent.status_code == 303
    with app.app_context():
        from portal.intake.models import Submission

        code = _db.session.scalar(select(Submission.code))
    staff = staff_login("admin")
    urls = ("/staff/queue", f"/staff/submissions/{code}", "/staff/notices/")
    for url in (*urls, f"/staff/notices/{ascii_notice}"):
        english = staff.get(url + "?lang=en")
        assert english.status_code == 200, url
        # The finding statuses are the notice's own vocabulary (its text says “（已完成）”).
        leftover = set(chinese_in(english.get_data(as_text=True))) - set(FINDING_STATUSES)
        assert leftover == set(), url
        # The choice sticks (a cookie) over the browser's languages until switched back.
        kept = staff.get(url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        assert "后台" not in kept, url
        chinese = staff.get(url + "?lang=zh").get_data(as_text=True)
        assert "后台" in chinese, url
