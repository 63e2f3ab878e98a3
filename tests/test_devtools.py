"""`flask dev seed`: there in debug mode and tests, absent from a production deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.intake.models import Submission


def _app(tmp_path: Path, **config: Any) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "portal.db"),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "devtools-test",
            **config,
        }
    )


def test_a_production_app_has_no_dev_command(tmp_path: Path) -> None:
    app = _app(tmp_path, TESTING=False, DEBUG=False)
    assert not app.debug and not app.testing
    result = app.test_cli_runner().invoke(args=["dev", "seed", "--submissions", "1"])
    assert result.exit_code != 0
    assert "No such command 'dev'" in result.output


@pytest.mark.parametrize("config", [{"DEBUG": True}, {"TESTING": True}])
def test_debug_and_testing_apps_have_it(tmp_path: Path, config: dict[str, Any]) -> None:
    result = _app(tmp_path, **config).test_cli_runner().invoke(args=["dev", "seed", "--help"])
    assert result.exit_code == 0, result.output
    assert "--submissions" in result.output


def test_seed_fills_the_queue(app: Flask, runner: FlaskCliRunner, published_notice: str) -> None:
    result = runner.invoke(args=["dev", "seed", "--submissions", "40", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert f"seeded 40 submissions on {published_notice}" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 40
        codes = db.session.scalars(select(Submission.code)).all()
        assert len(set(codes)) == 40


def test_seed_spreads_over_offices_and_rounds(app: Flask, runner: FlaskCliRunner) -> None:
    from portal.intake.mail.models import MailMessage
    from portal.notices.models import Finding, Notice
    from portal.offices.models import Office, Round

    args = [
        "dev",
        "seed",
        "--offices",
        "4",
        "--notices",
        "8",
        "--submissions",
        "400",
        "--seed",
        "3",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "offices 4, rounds 2, new notices 8" in result.output
    assert "seeded 400 submissions on 8 notices" in result.output and "rows/s" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Office)) == 4
        assert db.session.scalar(select(func.count()).select_from(Round)) == 2
        notices = db.session.scalars(select(Notice)).all()
        assert {n.state for n in notices} == {"published"} and len(
            {n.office_id for n in notices}
        ) == 4
        titles = [
            db.session.scalars(select(Finding.title).where(Finding.notice_id == n.id)).all()
            for n in notices
        ]
        assert all(len(set(t)) == len(t) for t in titles)  # distinct within a notice
        assert len({tuple(sorted(t)) for t in titles}) == len(notices)  # and varied across them
        rows = db.session.execute(
            select(Submission.office_id, Notice.office_id).join(
                Notice, Submission.notice_id == Notice.id
            )
        ).all()
        assert len(rows) == 400 and all(own == notice for own, notice in rows)
        mail = db.session.execute(
            select(MailMessage.office_id, Submission.office_id, Submission.channel).join(
                Submission, MailMessage.submission_id == Submission.id
            )
        ).all()
        assert mail and all(m == s and channel == "email" for m, s, channel in mail)
        per_office = dict(
            db.session.execute(
                select(Submission.office_id, func.count()).group_by(Submission.office_id)
            ).all()
        )
        busiest, quietest = per_office[min(per_office)], per_office[max(per_office)]
        assert busiest > 2 * quietest  # realistic skew: some offices much busier


@given(
    serial=st.integers(min_value=0, max_value=2**60),
    secret=st.from_regex(r"[0-9]{16}", fullmatch=True),
)
def test_seeded_receipt_secrets_verify_like_real_ones(serial: int, secret: str) -> None:
    from portal.devtools.generator import code_for, secret_hash
    from portal.intake import receipts

    key = b"k" * 32
    code = code_for(serial)
    assert secret_hash(code, secret, key) == receipts.hash_secret(secret, code=code, key=key)
    assert receipts.verify_secret(secret, secret_hash(code, secret, key), code=code, key=key)
