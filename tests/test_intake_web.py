"""The public feedback form, the receipt page and /track, through the Flask test client."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.intake.models import Submission
from portal.intake.sanitize import normalise_text
from portal.notices.models import Notice
from portal.workdays import WorkCalendar, utcnow
from tests.conftest import csrf_token_from, form_post

CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
BODY = "建议公开采购项目审查情况报告，接受群众监督，避免走过场。"


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (179, 38, 30)).save(out, format="PNG")
    return out.getvalue()


PNG_1PX = _png()


class Page(HTMLParser):
    """Just enough of a DOM: inputs by name, text by element id, field error texts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[dict[str, str | None]] = []
        self.text_by_id: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self.textareas: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input":
            self.inputs.append(attributes)
            return
        self._open.append(
            (tag, attributes.get("id") or (attributes.get("name") if tag == "textarea" else None))
        )
        if self._open[-1][1]:
            self.text_by_id.setdefault(self._open[-1][1] or "", "")

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, element_id in self._open:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data

    def checked(self, name: str) -> list[str]:
        return [
            i.get("value") or "" for i in self.inputs if i.get("name") == name and "checked" in i
        ]

    def values(self, name: str) -> list[str]:
        return [i.get("value") or "" for i in self.inputs if i.get("name") == name]

    def error(self, field: str) -> str:
        return self.text_by_id.get(f"{field}-error", "")


@pytest.fixture
def url(published_notice: str) -> str:
    return f"/notices/{published_notice}/feedback"


def count_submissions(app: Flask) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(Submission.id))) or 0


def stored_files(app: Flask) -> list[Path]:
    uploads = Path(app.instance_path) / "uploads"
    return [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


def submit(client: FlaskClient, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return form_post(client, url, data, content_type="multipart/form-data", **kw)


def receipt_from(client: FlaskClient) -> tuple[str, str]:
    page = Page(client.get("/feedback/receipt").get_data(as_text=True))
    code = page.text_by_id["receipt-code"].strip()
    secret = re.sub(r"\s", "", page.text_by_id["receipt-secret"])
    return code, secret


def load(app: Flask, code: str) -> Submission:
    from portal.intake.service import find_by_code

    submission = find_by_code(code)
    assert submission is not None, code
    return submission


# ---------------------------------------------------------------- the form


def test_form_lists_findings_by_category_and_preselects_one(
    client: FlaskClient, url: str, app: Flask
) -> None:
    html = client.get(url + "?finding=13").get_data(as_text=True)
    page = Page(html)
    with app.app_context():
        notice = _db.session.scalar(select(Notice))
        assert notice is not None
        numbers = sorted(f.number for f in notice.findings)
        categories = [c.title for c in notice.categories]
        title_13 = next(f.title for f in notice.findings if f.number == 13)
    assert sorted(int(v) for v in page.values("findings")) == numbers
    assert page.checked("findings") == ["13"]
    assert title_13 in html
    positions = [html.index(title) for title in categories]
    assert positions == sorted(positions), "categories appear in published order"
    for name in ("contact_name", "contact_phone", "contact_email", "anonymous", "consent",
                 "attachments", "website", "csrf_token"):  # fmt: skip
        assert page.values(name) or name in html, name
    assert "巡察整改办工作人员" in html and "保存" in html  # the PIPL notice


def test_honeypot_is_hidden_from_people(client: FlaskClient, url: str) -> None:
    honeypot = next(
        i for i in Page(client.get(url).get_data(as_text=True)).inputs if i.get("name") == "website"
    )
    assert honeypot.get("tabindex") == "-1" and honeypot.get("autocomplete") == "off"
    html = client.get(url).get_data(as_text=True)
    assert re.search(r'class="hp-field" aria-hidden="true"', html)
    css = client.get("/static/css/intake.css").get_data(as_text=True)
    assert re.search(r"\.hp-field\s*\{[^}]*left:\s*-10000px", css)


def test_page_has_no_inline_script(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_valid_post_gives_receipt_once(client: FlaskClient, url: str, app: Flask) -> None:
    response = submit(client, url, {"body": BODY, "findings": ["13", "2"]})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/feedback/receipt")

    first = client.get("/feedback/receipt")
    assert first.headers["Cache-Control"] == "no-store"
    page = Page(first.get_data(as_text=True))
    code = page.text_by_id["receipt-code"].strip()
    secret = re.sub(r"\s", "", page.text_by_id["receipt-secret"])
    assert CODE_RE.match(code)
    assert re.fullmatch(r"\d{16}", secret)
    due = WorkCalendar().due_date(utcnow(), app.config["REPLY_WITHIN_WORKDAYS"])
    assert f"{due.year}年{due.month}月{due.day}日" in first.get_data(as_text=True)

    again = client.get("/feedback/receipt").get_data(as_text=True)
    assert code not in again and secret[:8] not in again.replace(" ", "")

    with app.app_context():
        from portal.intake.service import check_secret

        submission = load(app, code)
        assert submission.channel == "web" and submission.status == "received"
        assert submission.body == BODY
        assert submission.finding_numbers == [2, 13]
        assert check_secret(submission, secret)


def test_errors_reshow_the_form_with_what_was_typed(
    client: FlaskClient, url: str, app: Flask
) -> None:
    response = submit(
        client,
        url,
        {
            "body": "太短了",
            "contact_name": "李明",
            "contact_phone": "12345",
            "contact_email": "li@",
            "findings": "7",
        },
    )
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    assert "至少10个字" in page.error("body")
    assert "电话号码格式不正确" in page.error("contact_phone")
    assert "电子邮箱" in page.error("contact_email")
    assert "同意" in page.error("consent")
    assert page.text_by_id["body"] == "太短了"
    assert "李明" in page.values("contact_name") and "12345" in page.values("contact_phone")
    assert page.checked("findings") == ["7"]
    assert count_submissions(app) == 0


def test_unknown_finding_number_is_a_field_error(client: FlaskClient, url: str, app: Flask) -> None:
    response = submit(client, url, {"body": BODY, "findings": "999"})
    assert response.status_code == 422
    assert "不在本次公示中" in Page(response.get_data(as_text=True)).error("findings")
    assert count_submissions(app) == 0


def test_contact_with_consent_is_stored(client: FlaskClient, url: str, app: Flask) -> None:
    data = {"body": BODY, "contact_name": " 李明 ", "contact_phone": "+86 138-1234-5678",
            "contact_email": "li@example.com", "consent": "y"}  # fmt: skip
    assert submit(client, url, data).status_code == 303
    code, _ = receipt_from(client)
    with app.app_context():
        submission = load(app, code)
        assert (submission.contact_name, submission.contact_phone, submission.contact_email) == (
            "李明",
            "13812345678",
            "li@example.com",
        )
        assert submission.consent_at is not None and not submission.anonymous


def test_anonymous_drops_every_contact_field(client: FlaskClient, url: str, app: Flask) -> None:
    data = {"body": BODY, "anonymous": "y", "contact_name": "李明", "contact_phone": "13812345678",
            "contact_email": "li@example.com"}  # fmt: skip
    assert submit(client, url, data).status_code == 303, "no consent needed when anonymous"
    code, _ = receipt_from(client)
    with app.app_context():
        submission = load(app, code)
        assert submission.anonymous
        assert (submission.contact_name, submission.contact_phone, submission.contact_email) == (
            None,
        ) * 3


def test_honeypot_records_spam_behind_the_same_success_page(
    client: FlaskClient, url: str, app: Flask
) -> None:
    response = submit(client, url, {"body": BODY, "website": "http://spam.example"})
    assert response.status_code == 303
    code, secret = receipt_from(client)
    assert CODE_RE.match(code) and len(secret) == 16
    with app.app_context():
        assert load(app, code).status == "spam"


def test_missing_csrf_is_refused_and_nothing_stored(
    client: FlaskClient, url: str, app: Flask
) -> None:
    client.get(url)
    response = client.post(url, data={"body": BODY})
    assert response.status_code == 400
    assert "刷新页面" in response.get_data(as_text=True)
    assert count_submissions(app) == 0


def test_windows_executable_named_pdf_is_refused_by_name(
    client: FlaskClient, url: str, app: Flask
) -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
    exe = exe[:60] + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200
    data = {
        "body": BODY,
        "attachments": [(io.BytesIO(PNG_1PX), "ok.png"), (io.BytesIO(exe), "scan.pdf")],
    }
    response = submit(client, url, data)
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    assert "scan.pdf" in page.error("attachments")
    assert page.text_by_id["body"] == BODY, "what was typed comes back"
    assert count_submissions(app) == 0
    assert stored_files(app) == [], "the good file of a refused submission is not kept either"


def test_sixty_megabytes_answer_a_friendly_413(client: FlaskClient, url: str, app: Flask) -> None:
    big = io.BytesIO(b"\x00" * (60 * 1024 * 1024))
    response = submit(client, url, {"body": BODY, "attachments": [(big, "video.pdf")]})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "上传内容过大" in html and "25MB" in html
    assert count_submissions(app) == 0 and stored_files(app) == []
    # Under FEEDBACK_OVERSIZE_READ_BYTES: the form comes back with the text (issue #17).
    assert Page(html).text_by_id.get("body", "").strip() == BODY


@pytest.mark.config(FEEDBACK_OVERSIZE_READ_BYTES=30 * 1024 * 1024)
def test_beyond_the_read_cap_a_bare_413_page(client: FlaskClient, url: str, app: Flask) -> None:
    big = io.BytesIO(b"\x00" * (40 * 1024 * 1024))
    response = submit(client, url, {"body": BODY, "attachments": [(big, "video.pdf")]})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "上传内容过大" in html and "25MB" in html and 'name="body"' not in html
    assert count_submissions(app) == 0 and stored_files(app) == []


def test_attachment_is_kept_with_the_submission(client: FlaskClient, url: str, app: Flask) -> None:
    data = {"body": BODY, "attachments": [(io.BytesIO(PNG_1PX), "照片.png")]}
    assert submit(client, url, data).status_code == 303
    code, _ = receipt_from(client)
    with app.app_context():
        assert [a.filename for a in load(app, code).attachments] == ["照片.png"]


# ---------------------------------------------------------------- notice state and window


def _set_notice(app: Flask, **values: Any) -> None:
    with app.app_context():
        notice = _db.session.scalar(select(Notice))
        for key, value in values.items():
            setattr(notice, key, value)
        _db.session.commit()


def test_closed_window_says_so_and_takes_nothing(client: FlaskClient, url: str, app: Flask) -> None:
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    _set_notice(app, feedback_closes_at=datetime(2024, 3, 1, 16, 0, tzinfo=UTC))
    page = client.get(url).get_data(as_text=True)
    assert "已于2024年3月2日00:00截止" in page  # Asia/Shanghai, UTC+8
    assert 'name="body"' not in page
    response = client.post(url, data={"body": BODY, "csrf_token": token})
    assert response.status_code == 403
    assert count_submissions(app) == 0


def test_window_not_open_yet(client: FlaskClient, url: str, app: Flask) -> None:
    _set_notice(app, feedback_opens_at=utcnow() + timedelta(days=2))
    page = client.get(url).get_data(as_text=True)
    assert "开始" in page and 'name="body"' not in page


def test_draft_notice_is_404_and_withdrawn_is_410(
    client: FlaskClient, url: str, app: Flask
) -> None:
    _set_notice(app, state="withdrawn")
    assert client.get(url).status_code == 410
    _set_notice(app, state="draft")
    assert client.get(url).status_code == 404
    assert client.get("/notices/no-such-notice/feedback").status_code == 404


# ---------------------------------------------------------------- any unicode


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.text(max_size=40),
        st.text(min_size=10, max_size=300),
        st.text(
            alphabet=st.sampled_from("反映问题𠀀😀\u202eשלום\x00\r\n\t \u0301e\ufeff"),
            min_size=5,
            max_size=80,
        ),
    ),
    name=st.text(max_size=30),
)
def test_any_unicode_is_stored_normalised_or_refused_clearly(
    client: FlaskClient, url: str, app: Flask, body: str, name: str
) -> None:
    data = {"body": body, "contact_name": name, "consent": "y"}
    before = count_submissions(app)
    response = submit(client, url, data)
    if response.status_code == 303:
        code, _ = receipt_from(client)
        with app.app_context():
            submission = load(app, code)
            assert submission.body == normalise_text(body).strip()  # outer blanks trimmed
            assert submission.contact_name == (normalise_text(name).strip() or None)
    else:
        assert response.status_code == 422
        page = Page(response.get_data(as_text=True))
        assert page.error("body") or page.error("contact_name"), "a message beside the field"
        assert count_submissions(app) == before


# ---------------------------------------------------------------- tracking


def _submitted(client: FlaskClient, url: str) -> tuple[str, str]:
    assert submit(client, url, {"body": BODY}).status_code == 303
    return receipt_from(client)


def test_wrong_pairs_get_one_generic_message(client: FlaskClient, url: str) -> None:
    code, secret = _submitted(client, url)
    wrong_secret = form_post(client, "/track", {"code": code, "secret": "0" * 16})
    unknown_code = form_post(client, "/track", {"code": "00000-00000", "secret": secret})
    assert wrong_secret.status_code == unknown_code.status_code == 422
    assert Page(wrong_secret.get_data(as_text=True)).error("secret") == Page(
        unknown_code.get_data(as_text=True)
    ).error("secret")
    assert client.get("/track/status").status_code == 303


def test_track_shows_status_and_takes_a_follow_up(
    client: FlaskClient, url: str, app: Flask
) -> None:
    code, secret = _submitted(client, url)
    response = form_post(
        client, "/track", {"code": code.lower().replace("-", ""), "secret": secret}
    )
    assert response.status_code == 303
    page = client.get("/track/status").get_data(as_text=True)
    assert code in page and "已收到" in page and BODY in page

    more = "补充：采购审查报告第三季度未见公开。"
    follow = form_post(
        client,
        "/track/follow-up",
        {"body": more, "attachments": [(io.BytesIO(PNG_1PX), "补充.png")]},
        form_url="/track/status",
        content_type="multipart/form-data",
    )
    assert follow.status_code == 303
    assert more in client.get("/track/status").get_data(as_text=True)
    with app.app_context():
        follow_ups = load(app, code).follow_ups
        assert [(f.body, f.author) for f in follow_ups] == [(more, "submitter")]


def test_tracking_lasts_thirty_minutes(
    client: FlaskClient, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, secret = _submitted(client, url)
    form_post(client, "/track", {"code": code, "secret": secret})
    assert client.get("/track/status").status_code == 200
    later = time.time() + 31 * 60
    monkeypatch.setattr("portal.triage.track_views.time.time", lambda: later)
    assert client.get("/track/status").status_code == 303


# ---------------------------------------------------------------- real server, real database


@pytest.mark.slow
def test_fifty_parallel_posts_to_gunicorn_on_postgresql(
    pg_database_url: str, gunicorn_server: Any, seed_text: str, tmp_path: Path
) -> None:
    import threading

    import requests

    from portal import create_app
    from portal.notices.service import import_notice

    setup = create_app(
        {"SQLALCHEMY_DATABASE_URI": pg_database_url, "INSTANCE_PATH": str(tmp_path / "setup")}
    )
    with setup.app_context():
        import_notice(seed_text, slug="parallel", publish=True)
        _db.session.commit()
    server = gunicorn_server(pg_database_url, workers=4, config={"RATELIMIT_ENABLED": False})
    form_url = f"{server.url}/notices/parallel/feedback"

    # Every browser fetches its own form (own session, own CSRF token), then all post at once.
    browsers = [requests.Session() for _ in range(50)]
    tokens = [csrf_token_from(b.get(form_url, timeout=30).text) for b in browsers]
    start = threading.Barrier(50)
    answers: list[int] = []

    def post(i: int) -> None:
        start.wait()
        data = {"csrf_token": tokens[i], "body": f"{BODY}（第{i}位）"}
        answer = browsers[i].post(form_url, data=data, allow_redirects=False, timeout=60)
        answers.append(answer.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [303] * 50, server.log()[-3000:]

    codes = [
        Page(b.get(f"{server.url}/feedback/receipt", timeout=30).text)
        .text_by_id["receipt-code"]
        .strip()
        for b in browsers
    ]
    with setup.app_context():
        stored = _db.session.execute(select(Submission.code, Submission.body)).all()
        _db.engine.dispose()
    assert len(stored) == 50
    assert len({code for code, _ in stored}) == 50
    assert sorted(codes) == sorted(code for code, _ in stored)
    assert {body for _, body in stored} == {f"{BODY}（第{i}位）" for i in range(50)}


# ---------------------------------------------------------------- the cached blank form


def test_blank_form_is_the_same_page_for_everyone_but_the_csrf_token(
    app: Flask, url: str, seed_text: str, published_notice: str
) -> None:
    first, second = app.test_client(), app.test_client()
    page_one = first.get(url).get_data(as_text=True)
    page_two = second.get(url).get_data(as_text=True)  # served from the cache
    token_one, token_two = csrf_token_from(page_one), csrf_token_from(page_two)
    assert token_one != token_two
    assert page_two.replace(token_two, "T") == page_one.replace(token_one, "T")
    # Each visitor's own token works; the other's does not.
    body = "第二位访客通过缓存的表单提交意见，内容足够长。"
    ok = second.post(url, data={"csrf_token": token_two, "body": body})
    assert ok.status_code == 303
    crossed = first.post(url, data={"csrf_token": token_two, "body": body})
    assert crossed.status_code == 400
    # A preselected finding is a page of its own; a revised notice is rendered anew.
    preselected = Page(second.get(url + "?finding=7").get_data(as_text=True))
    assert preselected.checked("findings") == ["7"]
    assert Page(second.get(url).get_data(as_text=True)).checked("findings") == []
    from portal.notices.service import import_notice

    with app.app_context():
        import_notice(seed_text.replace("执行议事规则不严格", "执行议事规则仍不严格"),
                      slug=published_notice)  # fmt: skip
        _db.session.commit()
    assert "执行议事规则仍不严格" in second.get(url).get_data(as_text=True)


@pytest.mark.config(NOTICE_CACHE_TTL=0.5)
def test_form_sees_a_withdrawal_within_the_ttl_and_a_post_sees_it_at_once(
    app: Flask, client: FlaskClient, url: str, published_notice: str
) -> None:
    page = client.get(url)
    assert page.status_code == 200
    token = csrf_token_from(page.get_data(as_text=True))
    from portal.notices.service import get_by_slug, withdraw_notice

    with app.app_context():
        withdrawn = get_by_slug(published_notice)
        assert withdrawn is not None
        withdraw_notice(withdrawn, actor="test", note="已撤回")
        _db.session.commit()
    body = "公示撤回后仍然提交的意见，应当被拒绝而不是收下。"
    assert client.post(url, data={"csrf_token": token, "body": body}).status_code == 410
    assert count_submissions(app) == 0
    time.sleep(0.6)
    assert client.get(url).status_code == 410
