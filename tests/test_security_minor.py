"""Issue #19 items 17 and 18 (helper D2's part): no GET decrypts or exports anything, and the
minor findings: /track does the same work for unknown codes, the Atom feed's links come from
PUBLIC_BASE_URL, private files are private, CSP base-uri 'none', nginx refuses unknown hosts,
and per-worker rate limits are warned about."""

from __future__ import annotations

import io
import logging
import runpy
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import audit, create_app
from portal.extensions import db
from portal.intake import receipts
from portal.intake.service import Contact, Incoming, IncomingFile, record_submission
from portal.notices.models import Notice
from portal.site import per_worker_limits_warning
from tests.conftest import csrf_token_from, form_post

ROOT = Path(__file__).resolve().parent.parent
NAME, STREET = "李明", "东莞市南城区鸿福路88号"


def _letter_submission(app: Flask, slug: str) -> str:
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
        return record_submission(
            Incoming(
                notice=notice,
                channel="letter",
                body="单位食堂浪费严重，每天倒掉很多饭菜，希望尽快整改。",
                consent=True,
                contact=Contact(name=NAME, address=f"523000 {STREET}"),
            )
        ).code


def _views(app: Flask) -> list[audit.Event]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(audit.Event).where(audit.Event.action == "personal_data.view")
            )
        )


# -- item 17: letters, labels and the ledger ---------------------------------------------------


def test_a_letter_link_shows_the_recipient_masked_and_records_nothing(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    code = _letter_submission(app, published_notice)
    triager = staff_login("triager")
    page = triager.get(f"/staff/intake/letters/{code}").get_data(as_text=True)
    assert NAME not in page and STREET not in page
    assert "李**" in page, "the preview still shows whose letter it is, masked"
    assert _views(app) == []
    assert triager.get(f"/staff/intake/letters/{code}/pdf").status_code == 405


def test_printing_a_letter_needs_the_forms_token_and_a_reason(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    code = _letter_submission(app, published_notice)
    triager = staff_login("triager")
    url = f"/staff/intake/letters/{code}"
    forged = triager.post(url, data={"reason": "另一个网站的表单"})  # no CSRF token
    assert forged.status_code == 400 and NAME not in forged.get_data(as_text=True)
    token = csrf_token_from(triager.get(url).get_data(as_text=True))
    bare = triager.post(url, data={"csrf_token": token, "reason": " "})
    assert bare.status_code == 422
    told = bare.get_data(as_text=True)
    assert "请填写打印用途" in told and NAME not in told
    assert _views(app) == []

    printed = triager.post(url, data={"csrf_token": token, "reason": "邮寄书面答复"})
    assert printed.status_code == 200
    assert NAME in printed.get_data(as_text=True) and STREET in printed.get_data(as_text=True)
    (event,) = _views(app)
    assert event.details["reason"] == "打印答复信：邮寄书面答复"
    assert event.details["code"] == code


def test_labels_come_from_a_post_with_a_reason(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    code = _letter_submission(app, published_notice)
    triager = staff_login("triager")
    link = triager.get(f"/staff/intake/labels?codes={code}").get_data(as_text=True)
    assert code in link and STREET not in link, "a link fills in the form, it prints nothing"
    assert triager.post("/staff/intake/labels", data={"codes": code}).status_code == 400
    sheet = form_post(
        triager, "/staff/intake/labels", {"codes": code, "reason": "批量邮寄"},
        form_url="/staff/intake/labels",
    )  # fmt: skip
    assert sheet.status_code == 200 and STREET in sheet.get_data(as_text=True)
    assert [e.details["reason"] for e in _views(app)] == ["打印地址标签：批量邮寄"]


def test_the_ledger_is_exported_by_a_post_with_csrf_only(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    _letter_submission(app, published_notice)
    viewer = staff_login("viewer")
    assert viewer.get("/staff/ledger.xlsx").status_code == 405
    assert viewer.post("/staff/ledger.xlsx").status_code == 400
    dashboard = viewer.get("/staff/dashboard").get_data(as_text=True)
    assert (
        'form="ledger-download"' in dashboard and 'method="post" id="ledger-download"' in dashboard
    )
    response = viewer.post("/staff/ledger.xlsx", data={"csrf_token": csrf_token_from(dashboard)})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    assert len(list(book["台账"].iter_rows(min_row=2))) == 1
    with app.app_context():
        exports = db.session.scalars(
            select(audit.Event).where(audit.Event.action == "ledger.export")
        ).all()
        assert len(exports) == 1


def test_a_report_download_started_by_another_site_is_refused(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    triager = staff_login("triager")
    refused = triager.get("/staff/report.docx", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    with app.app_context():
        assert not db.session.scalars(
            select(audit.Event).where(audit.Event.action == "report.download")
        ).all()
    ours = triager.get("/staff/report.docx", headers={"Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 200 and ours.data[:2] == b"PK"


# -- item 18: /track ---------------------------------------------------------------------------


def test_track_hashes_the_secret_for_unknown_codes_too(
    app: Flask, client: FlaskClient, published_notice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work whether the code exists: counted hash computations, not timings."""
    code = _letter_submission(app, published_notice)
    hashed: list[str] = []
    real = receipts.hash_secret

    def counting(secret: str, *, code: str, key: bytes) -> str:
        hashed.append(code)
        return real(secret, code=code, key=key)

    monkeypatch.setattr(receipts, "hash_secret", counting)
    unknown = "ABCDE-FGHJK" if code != "ABCDE-FGHJK" else "ABCDE-FGHJM"
    answers = []
    for typed in (code, unknown):
        hashed.clear()
        response = form_post(client, "/track", {"code": typed, "secret": "1234 5678 9012 3456"})
        answers.append((response.status_code, len(hashed)))
    assert answers == [(422, 1), (422, 1)]


# -- item 18: Atom feed ------------------------------------------------------------------------


@pytest.mark.config(PUBLIC_BASE_URL="https://portal.example.gov.cn")
def test_the_atom_feed_links_to_the_public_base_url_whatever_the_host(
    client: FlaskClient, published_notice: str
) -> None:
    response = client.get("/notices.atom", headers={"Host": "evil.example"})
    assert b"evil.example" not in response.data
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(response.data)
    links = [link.get("href") or "" for link in root.iter("{http://www.w3.org/2005/Atom}link")]
    assert links and all(h.startswith("https://portal.example.gov.cn/") for h in links), links
    entry = root.find("a:entry", ns)
    assert entry is not None
    assert entry.findtext("a:id", namespaces=ns) == (
        f"https://portal.example.gov.cn/notices/{published_notice}"
    )


# -- item 18: file modes -----------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_uploads_are_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)  # left readable by an older release
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x"})
    database = instance / "portal.db"
    with app.app_context():
        db.create_all()
        assert _mode(database) == 0o600, "created 0600 before SQLite first opens it"
        assert _mode(instance) == 0o700
        uploads = instance / "uploads"
        assert _mode(uploads) == 0o700
        from portal.intake.attachments import StoreTransaction, check_file

        stored = StoreTransaction().store(check_file(IncomingFile("a.txt", "附件".encode())))
        assert _mode(stored) == 0o600 and _mode(stored.parent) == 0o700
        assert _mode(uploads / "tmp") == 0o700
        db.engine.dispose()


def test_an_existing_world_readable_database_is_tightened_at_start(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "i"),
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        }
    )
    assert _mode(database) == 0o600


# -- item 18: CSP, nginx -----------------------------------------------------------------------


def test_csp_forbids_base_elements_and_foreign_form_targets(client: FlaskClient) -> None:
    csp = client.get("/track").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"


def test_the_shipped_nginx_site_refuses_unknown_hosts() -> None:
    conf = (ROOT / "deploy" / "nginx" / "portal.conf").read_text()
    blocks = conf.split("\nserver {")[1:]
    catch_all = [b for b in blocks if "default_server" in b]
    assert len(catch_all) == 1, "one catch-all server"
    block = catch_all[0].split("\n}")[0]
    for port in ("80", "443 ssl", "[::]:80", "[::]:443 ssl"):
        assert f"listen {port} default_server;" in block, port
    assert "return 444;" in block and "ssl_reject_handshake on;" in block
    portal_blocks = [b for b in blocks if "server_name portal.example.gov.cn" in b]
    assert portal_blocks and all("default_server" not in b for b in portal_blocks)


# -- item 18: per-worker rate limits -----------------------------------------------------------


def test_per_worker_memory_limits_are_named_only_when_they_mislead() -> None:
    assert per_worker_limits_warning("memory://", 4) is not None
    assert "4x" in (per_worker_limits_warning("memory://", 4) or "")
    assert per_worker_limits_warning("memory://", 1) is None
    assert per_worker_limits_warning("redis://127.0.0.1:6379/0", 4) is None


def test_gunicorn_warns_once_at_start_with_several_memory_workers(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))

    def start(age: int, workers: int) -> None:
        worker = SimpleNamespace(age=age, cfg=SimpleNamespace(workers=workers), wsgi=app)
        hooks["post_worker_init"](worker)

    app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    with caplog.at_level(logging.WARNING):
        start(age=1, workers=5)
        start(age=2, workers=5)  # the second worker of the same start stays quiet
    warned = [r for r in caplog.records if "rate limits are counted per worker" in r.message]
    assert len(warned) == 1 and "5 workers" in warned[0].message
    caplog.clear()
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/0"
    with caplog.at_level(logging.WARNING):
        start(age=1, workers=5)
    assert not [r for r in caplog.records if "per worker" in r.message]


def test_web_concurrency_with_memory_limits_warns_at_app_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    with caplog.at_level(logging.WARNING):
        create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    assert any("3 workers" in r.message for r in caplog.records)


def test_printing_addresses_needs_recent_authentication(
    app: Flask, published_notice: str, staff_login: Any
) -> None:
    """Letters and labels decrypt names and addresses: sudo mode, as revealing them does."""
    import time

    code = _letter_submission(app, published_notice)
    triager = staff_login("triager")
    with triager.session_transaction() as sess:
        sess["auth_at"] = time.time() - 3600
    url = f"/staff/intake/letters/{code}"
    for target, data in ((url, {}), (f"{url}/pdf", {}), ("/staff/intake/labels", {"codes": code})):
        response = form_post(triager, target, {**data, "reason": "邮寄答复"}, form_url=url)
        assert response.status_code == 302 and "/staff/reauth" in response.location, target
    assert _views(app) == []


@pytest.mark.slow
def test_a_real_gunicorn_with_memory_limits_says_so_once(
    gunicorn_server: Any, tmp_path: Path
) -> None:
    """The shipped gunicorn config, two workers, the default memory:// storage: one warning."""
    database = f"sqlite:///{tmp_path / 'g.db'}"
    conf = ("-c", str(ROOT / "deploy" / "gunicorn.conf.py"))
    two = gunicorn_server(database, workers=2, extra_args=conf)
    one = gunicorn_server(database, workers=1, extra_args=conf)
    assert two.log().count("rate limits are counted per worker: 2 workers") == 1, two.log()
    assert "counted per worker" not in one.log()
