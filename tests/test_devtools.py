"""`flask dev seed`: there in debug mode and tests, absent from a production deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
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
