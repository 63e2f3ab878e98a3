"""`flask users …` through app.test_cli_runner()."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from portal.audit import Event
from portal.extensions import db as _db
from portal.staff.models import User
from tests.conftest import form_post

GOOD = "a long and rare passphrase 88"


def user_row(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            _db.session.expunge(user)
        return user


def roles_at(user: User) -> set[tuple[str, str]]:
    return {(m.role, m.office.slug) for m in user.memberships}


def logged_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(_db.session.scalars(select(Event.action).order_by(Event.seq)))


def test_create_with_password_on_stdin_then_log_in(app: Flask, runner: Any) -> None:
    result = runner.invoke(
        args=["users", "create", "Li.Ming@Office.CN", "--role", "triager", "--password-stdin"],
        input=GOOD + "\n",
    )
    assert result.exit_code == 0, result.output
    user = user_row(app, "li.ming@office.cn")
    # An office role: held in the default office, since no --office was given.
    assert user is not None and user.role == "staff"
    assert roles_at(user) == {("triager", "main")}
    assert result.stdout.strip() == "created li.ming@office.cn (triager@main)"
    assert GOOD not in user.password_hash
    client = app.test_client()
    response = form_post(client, "/staff/login", {"email": "li.ming@office.cn", "password": GOOD})
    assert response.status_code == 403  # right password, but no second factor bound yet
    assert "user.create" in logged_actions(app)


def test_create_prompts_twice_hidden_and_refuses_a_mismatch(app: Flask, runner: Any) -> None:
    ok = runner.invoke(
        args=["users", "create", "a@office.cn", "--role", "viewer"], input=f"{GOOD}\n{GOOD}\n"
    )
    assert ok.exit_code == 0, ok.output
    assert GOOD not in ok.output  # hidden input is not echoed
    assert ok.output.count("Password") == 1 and "Repeat" in ok.output
    mismatch = runner.invoke(
        args=["users", "create", "b@office.cn", "--role", "viewer"],
        input=f"{GOOD}\nsomething else entirely\n",
    )
    assert mismatch.exit_code != 0
    assert user_row(app, "b@office.cn") is None


def test_create_refuses_weak_passwords_bad_roles_and_duplicates(app: Flask, runner: Any) -> None:
    weak = runner.invoke(
        args=["users", "create", "c@office.cn", "--role", "editor", "--password-stdin"],
        input="woaini5201314\n",
    )
    assert weak.exit_code == 1 and user_row(app, "c@office.cn") is None
    short = runner.invoke(
        args=["users", "create", "c@office.cn", "--role", "editor", "--password-stdin"],
        input="Zk3!short\n",
    )
    assert short.exit_code == 1
    role = runner.invoke(
        args=["users", "create", "c@office.cn", "--role", "boss", "--password-stdin"],
        input=GOOD + "\n",
    )
    assert role.exit_code != 0
    first = runner.invoke(
        args=["users", "create", "d@office.cn", "--role", "viewer", "--password-stdin"],
        input=GOOD + "\n",
    )
    again = runner.invoke(
        args=["users", "create", "D@office.cn", "--role", "admin", "--password-stdin"],
        input=GOOD + "\n",
    )
    assert first.exit_code == 0 and again.exit_code == 1
    assert roles_at(user_row(app, "d@office.cn")) == {("viewer", "main")}


def test_list_shows_every_account_with_its_roles_per_office(
    app: Flask, runner: Any, make_user: Any
) -> None:
    from portal.offices.service import create_office

    with app.app_context():
        create_office("b", name="乙单位")
        _db.session.commit()
    users = [
        make_user("editor"),
        make_user("viewer", active=False),
        make_user("triager", offices=["main", "b"]),
        make_user("supervisor"),
    ]
    output = runner.invoke(args=["users", "list"]).output
    lines = output.strip().splitlines()
    assert len(lines) == 4
    fields = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert fields[users[0].email][1] == "editor@main"
    assert fields[users[1].email][1:3] == ["viewer@main", "disabled"]
    assert set(fields[users[2].email][1].split(", ")) == {"triager@main", "triager@b"}
    assert fields[users[3].email][1] == "supervisor"


def test_disable_stops_logins_and_open_sessions(app: Flask, runner: Any, staff_login: Any) -> None:
    client = staff_login("triager")
    result = runner.invoke(args=["users", "disable", client.user.email])
    assert result.exit_code == 0
    assert client.get("/staff/account").status_code == 302
    fresh = app.test_client()
    response = form_post(
        fresh, "/staff/login", {"email": client.user.email, "password": client.user.plain_password}
    )
    assert response.status_code == 401
    assert runner.invoke(args=["users", "disable", "ghost@office.cn"]).exit_code == 1
    assert "user.disable" in logged_actions(app)


def test_reset_2fa_refuses_the_password_alone_until_an_enrolment_link(
    app: Flask, runner: Any, make_user: Any
) -> None:
    user = make_user("editor")
    assert runner.invoke(args=["users", "reset-2fa", user.email]).exit_code == 0
    row = user_row(app, user.email)
    assert row is not None and not row.has_second_factor and row.recovery_codes_left == 0
    client = app.test_client()
    response = form_post(
        client, "/staff/login", {"email": user.email, "password": user.plain_password}
    )
    assert response.status_code == 403 and "绑定链接" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    assert "user.reset_2fa" in logged_actions(app)
    link = runner.invoke(args=["users", "enrol-link", user.email])
    assert link.exit_code == 0 and "/staff/enrol/" in link.output
    assert runner.invoke(args=["users", "enrol-link", "ghost@office.cn"]).exit_code == 1
