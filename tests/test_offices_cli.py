"""The CLI contract of many offices (README, issue 13): `flask offices`, `flask rounds`,
`notices import --office/--round` and `users create --office`, through app.test_cli_runner()."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.notices.models import Notice
from portal.offices.models import Office, Round
from portal.staff.models import User
from tests.conftest import SEED_NOTICE

PASSWORD = "a long and rare passphrase 88"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def office(app: Flask, slug: str) -> Office | None:
    with app.app_context():
        found = _db.session.scalar(select(Office).where(Office.slug == slug))
        if found is not None:
            _db.session.expunge(found)
        return found


def create(runner: Any, slug: str, name: str, *extra: str) -> Any:
    return runner.invoke(args=["offices", "create", slug, "--name", name, *extra])


def test_create_prints_the_slug_and_stores_the_office(app: Flask, runner: Any) -> None:
    result = create(runner, "nanhai-edu", "佛山市南海区教育局", "--short", "南海教育")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "nanhai-edu"
    made = office(app, "nanhai-edu")
    assert made is not None
    assert (made.name, made.short_name, made.active, made.is_default) == (
        "佛山市南海区教育局",
        "南海教育",
        True,
        False,
    )


@pytest.mark.parametrize("slug", ["Nanhai Edu", "a.b", "南海", "a_b", "x" * 81])
def test_a_malformed_slug_is_refused_in_chinese(app: Flask, runner: Any, slug: str) -> None:
    result = create(runner, slug, "某单位")
    assert result.exit_code == 1
    assert CHINESE.search(result.stderr), result.stderr
    with app.app_context():
        assert _db.session.scalar(select(func.count()).where(Office.name == "某单位")) == 0


def test_a_taken_slug_is_refused_in_chinese_and_changes_nothing(app: Flask, runner: Any) -> None:
    assert create(runner, "yi", "乙单位").exit_code == 0
    again = create(runner, "yi", "另一个单位")
    assert again.exit_code == 1
    assert "已被其他单位使用" in again.stderr
    assert office(app, "yi").name == "乙单位"


def test_list_shows_the_default_office_first(runner: Any) -> None:
    # A name that sorts before the default office's ("巡察整改办公室") still comes after it.
    assert create(runner, "a-unit", "一单位").exit_code == 0
    assert create(runner, "b-unit", "白单位", "--short", "白").exit_code == 0
    lines = runner.invoke(args=["offices", "list"]).stdout.strip().splitlines()
    assert lines[0].split("\t")[0] == "main"
    assert sorted(line.split("\t")[0] for line in lines[1:]) == ["a-unit", "b-unit"]
    assert lines[0].endswith("\tdefault")
    assert "\t".join(["b-unit", "白单位", "白"]) in lines


def test_rounds_create_prints_the_slug_and_keeps_the_dates(app: Flask, runner: Any) -> None:
    args = ["rounds", "create", "2024-r5", "--name", "十五届市委第五轮巡察"]
    dated = [*args, "--group", "市委第三巡察组", "--starts", "2024-03-01", "--ends", "2024-05-31"]
    result = runner.invoke(args=dated)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2024-r5"
    with app.app_context():
        found = _db.session.scalar(select(Round).where(Round.slug == "2024-r5"))
        assert found is not None
        assert (found.inspection_group, found.starts_on, found.ends_on) == (
            "市委第三巡察组",
            date(2024, 3, 1),
            date(2024, 5, 31),
        )
    again = runner.invoke(args=args)
    assert again.exit_code == 1 and CHINESE.search(again.stderr)
    backwards = ["rounds", "create", "r6", "--name", "第六轮", "--starts", "2024-06-01"]
    result = runner.invoke(args=[*backwards, "--ends", "2024-05-01"])
    assert result.exit_code == 1 and "结束日期不能早于开始日期" in result.stderr


def imported(app: Flask, slug: str) -> tuple[str, str | None]:
    with app.app_context():
        notice = _db.session.scalar(select(Notice).where(Notice.slug == slug))
        assert notice is not None
        return notice.office.slug, notice.round.slug if notice.round else None


def test_notices_import_puts_the_notice_in_the_named_office_and_round(
    app: Flask, runner: Any
) -> None:
    assert create(runner, "yi", "乙单位").exit_code == 0
    assert runner.invoke(args=["rounds", "create", "r5", "--name", "第五轮"]).exit_code == 0
    args = ["notices", "import", str(SEED_NOTICE), "--office", "yi", "--round", "r5"]
    result = runner.invoke(args=[*args, "--slug", "yi-notice", "--publish"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "yi-notice"
    assert imported(app, "yi-notice") == ("yi", "r5")


def test_notices_import_without_office_goes_to_the_default_office(app: Flask, runner: Any) -> None:
    assert create(runner, "yi", "乙单位").exit_code == 0
    result = runner.invoke(args=["notices", "import", str(SEED_NOTICE), "--slug", "plain"])
    assert result.exit_code == 0, result.output
    assert imported(app, "plain") == ("main", None)


@pytest.mark.parametrize("option", ["--office", "--round"])
def test_notices_import_into_an_unknown_office_or_round_fails(
    app: Flask, runner: Any, option: str
) -> None:
    args = ["notices", "import", str(SEED_NOTICE), option, "nowhere"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert "nowhere" in result.stderr and CHINESE.search(result.stderr)
    with app.app_context():
        assert _db.session.scalar(select(func.count(Notice.id))) == 0


def account(app: Flask, email: str) -> tuple[str, set[tuple[str, str]]] | None:
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == email))
        if user is None:
            return None
        return user.role, {(m.role, m.office.slug) for m in user.memberships}


def users_create(runner: Any, email: str, *args: str) -> Any:
    return runner.invoke(
        args=["users", "create", email, *args, "--password-stdin"], input=PASSWORD + "\n"
    )


def test_users_create_gives_an_office_role_in_every_named_office(app: Flask, runner: Any) -> None:
    assert create(runner, "a", "甲单位").exit_code == 0
    assert create(runner, "b", "乙单位").exit_code == 0
    args = ["--role", "triager", "--office", "a", "--office", "b"]
    result = users_create(runner, "t@office.cn", *args)
    assert result.exit_code == 0, result.output
    assert account(app, "t@office.cn") == ("staff", {("triager", "a"), ("triager", "b")})
    listed = runner.invoke(args=["users", "list"]).stdout
    line = next(x for x in listed.splitlines() if x.startswith("t@office.cn"))
    assert set(line.split("\t")[1].split(", ")) == {"triager@a", "triager@b"}


def test_users_create_refuses_an_office_for_admin_and_unknown_offices(
    app: Flask, runner: Any
) -> None:
    assert create(runner, "a", "甲单位").exit_code == 0
    admin = users_create(runner, "boss@office.cn", "--role", "admin", "--office", "a")
    assert admin.exit_code == 1 and CHINESE.search(admin.stderr)
    assert account(app, "boss@office.cn") is None
    unknown = users_create(runner, "t@office.cn", "--role", "viewer", "--office", "nowhere")
    assert unknown.exit_code == 1 and "nowhere" in unknown.stderr
    assert account(app, "t@office.cn") is None


def test_a_supervisor_is_created_without_an_office(app: Flask, runner: Any) -> None:
    result = users_create(runner, "xcb@city.cn", "--role", "supervisor")
    assert result.exit_code == 0, result.output
    assert account(app, "xcb@city.cn") == ("supervisor", set())
    assert result.stdout.strip() == "created xcb@city.cn (supervisor)"
