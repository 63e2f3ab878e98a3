"""`flask users …`: create, list, disable accounts and reset their second factor."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.offices.service import office_or_error
from portal.staff import enrolment
from portal.staff.auth import find_user
from portal.staff.models import ROLES, STAFF, User
from portal.staff.service import all_users, create_user, disable_user, reset_2fa

users_cli = AppGroup("users", help="Staff accounts.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--office",
    "office_slugs",
    multiple=True,
    help="Office (slug) where an editor/triager/viewer holds the role; repeat for several "
    "(default: the default office). Not for admin or supervisor.",
)
@click.option("--name", "display_name", default="", help="Display name (default: from e-mail).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first stdin line.")
def create_command(
    email: str, role: str, office_slugs: tuple[str, ...], display_name: str, password_stdin: bool
) -> None:
    """Create a staff account; it binds its second factor through `flask users enrol-link`."""
    password = _read_password(password_stdin)
    try:
        offices = [office_or_error(slug) for slug in office_slugs]
        user = create_user(
            email,
            role=role,
            password=password,
            display_name=display_name,
            actor="cli",
            offices=offices,
        )
    except ValueError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"created {user.email} ({_roles_text(user)})")


def _roles_text(user: User) -> str:
    """admin, supervisor, or each office's role as role@office-slug."""
    if user.role != STAFF:
        return user.role
    return ", ".join(f"{m.role}@{m.office.slug}" for m in user.memberships)


@users_cli.command("list")
def list_command() -> None:
    """One account a line: email, role, state, 2FA, last login."""
    for user in all_users():
        state = "active" if user.active else "disabled"
        two_fa = "2fa" if user.has_second_factor else "no-2fa"
        last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "-"
        click.echo(f"{user.email}\t{_roles_text(user)}\t{state}\t{two_fa}\t{last}")


def _user_or_exit(email: str) -> User:
    user = find_user(email)
    if user is None:
        click.echo(f"error: no account {email!r}", err=True)
        sys.exit(1)
    return user


@users_cli.command("disable")
@click.argument("email")
def disable_command(email: str) -> None:
    """Disable an account and end its sessions."""
    user = _user_or_exit(email)
    disable_user(user, actor="cli")
    db.session.commit()
    click.echo(f"disabled {user.email}")


@users_cli.command("reset-2fa")
@click.argument("email")
def reset_2fa_command(email: str) -> None:
    """Forget an account's second factors and recovery codes; it enrols again through a new
    enrolment link (`flask users enrol-link`)."""
    user = _user_or_exit(email)
    reset_2fa(user, actor="cli")
    db.session.commit()
    click.echo(f"2fa reset for {user.email}")


@users_cli.command("enrol-link")
@click.argument("email")
def enrol_link_command(email: str) -> None:
    """Print a one-time link (expires after ENROLMENT_LINK_HOURS) for the account to bind its
    second factor; earlier unused links stop working."""
    user = _user_or_exit(email)
    if not user.active:
        click.echo(f"error: account {user.email} is disabled", err=True)
        sys.exit(1)
    token = enrolment.new_link(user, actor="cli")
    db.session.commit()
    click.echo(enrolment.link_url(token))
