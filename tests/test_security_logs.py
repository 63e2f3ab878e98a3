"""Issue #19 item 5: personal data never reaches a log line or an audit event's details.

Planted data (a name, a phone number, an email address, a letter's text, a password typed in the
email field) go through a web submission, staff queue searches, a database error in a
request, and failed staff logins; every log record captured at DEBUG (tracebacks included) and
every audit event (details, actor, object) is then searched for them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal import audit
from portal.extensions import db
from tests.conftest import form_post

NAME = "欧阳栖梧"
PHONE = "13987654321"
EMAIL = "qiwu.planted@example.org"
TEXT = "食堂采购价格虚高线索QZV8"
PASSWORD = "Tr0ub4dor&planted-pw"
PLANTED = (NAME, PHONE, EMAIL, TEXT, PASSWORD)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    handler_format = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(handler_format.format(record) for record in caplog.records)


def _audit_text(app: Flask) -> str:
    with app.app_context():
        events = db.session.scalars(select(audit.Event)).all()
        return "\n".join(
            json.dumps(
                [e.actor, e.action, e.object_type, e.object_id, e.details], ensure_ascii=False
            )
            for e in events
        )


def test_a_database_error_does_not_carry_its_parameters(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(DBAPIError) as caught:
            db.session.execute(text("INSERT INTO no_such_table VALUES (:x)"), {"x": TEXT})
        db.session.rollback()
    assert "no_such_table" in str(caught.value)  # the SQL still says what failed
    assert TEXT not in str(caught.value)


def test_no_planted_personal_data_in_any_log_line_or_audit_detail(
    app: Flask, published_notice: str, staff_login: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is logged, as in production

    @app.get("/_test/db-error")
    def db_error() -> str:
        db.session.execute(text("INSERT INTO no_such_table VALUES (:x)"), {"x": TEXT})
        return "unreachable"

    citizen = app.test_client()
    url = f"/notices/{published_notice}/feedback"
    data = {
        "body": f"{TEXT}，请纪检部门核查。",
        "contact_name": NAME,
        "contact_phone": PHONE,
        "contact_email": EMAIL,
        "consent": "y",
    }
    submitted = form_post(citizen, url, data, content_type="multipart/form-data")
    assert submitted.status_code == 303
    # SQLite: OperationalError, the 503 handler logs it; PostgreSQL: a 500 with its traceback.
    assert citizen.get("/_test/db-error").status_code in (500, 503)
    for email in (EMAIL, PASSWORD):  # a password typed into the email field, too
        login = form_post(app.test_client(), "/staff/login", {"email": email, "password": PASSWORD})
        assert login.status_code in (200, 401, 422)
    triager = staff_login("triager")
    for term in (TEXT, NAME, PHONE):
        assert triager.get("/staff/queue", query_string={"q": term}).status_code == 200

    logged = _log_text(caplog)
    assert "no_such_table" in logged  # the error itself was logged
    audited = _audit_text(app)
    assert "submission.record" in audited and "login.failure" in audited
    for planted in PLANTED:
        assert planted not in logged, planted
        assert planted not in audited, planted


def test_an_instance_config_replacing_the_engine_options_still_hides_parameters(
    app: Flask,
) -> None:
    from portal import create_app

    other = create_app({**app.config, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}})
    with other.app_context():
        with pytest.raises(DBAPIError) as caught:
            db.session.execute(text("INSERT INTO no_such_table VALUES (:x)"), {"x": TEXT})
        db.session.rollback()
        db.engine.dispose()
    assert TEXT not in str(caught.value)
