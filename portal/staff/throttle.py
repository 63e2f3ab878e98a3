"""Login throttling per account and network, with progressive delay (issue #19, item 2).

A global "five failures lock the account" let anyone lock any account. Failures now count per
(account, network): a network that keeps failing waits longer and longer, other networks are not
affected. Failures from every network together still count: past a threshold the account is
closed to networks it never logged in from, while its usual networks (where it logged in
before) still get in with the password and the second factor. Lockouts alert the admins.

State lives in the database (rows of login_networks, counters on users), so every worker and
every host sees the same counts; increments are single UPDATE statements.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit, outbox
from portal.extensions import db
from portal.staff.models import LoginNetwork, User
from portal.workdays import as_utc, to_local, utcnow


@dataclass(frozen=True)
class Policy:
    free_failures: int  # failures from one network before any delay
    base_delay: timedelta  # the first delay; each further failure doubles it
    max_delay: timedelta
    window: timedelta  # failures older than this (and no block running) are forgotten
    alert_failures: int  # failures from one network that count as a lockout (admins told)
    account_failures: int  # failures from all networks that close unknown networks
    account_lock: timedelta


def policy() -> Policy:
    config = current_app.config
    return Policy(
        free_failures=config["LOGIN_FREE_FAILURES"],
        base_delay=timedelta(seconds=config["LOGIN_BASE_DELAY_SECONDS"]),
        max_delay=timedelta(seconds=config["LOGIN_MAX_DELAY_SECONDS"]),
        window=timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"]),
        alert_failures=config["LOGIN_ALERT_FAILURES"],
        account_failures=config["LOGIN_ACCOUNT_FAILURES"],
        account_lock=timedelta(seconds=config["LOGIN_ACCOUNT_LOCK_SECONDS"]),
    )


def delay_after(failures: int, rules: Policy) -> timedelta:
    """How long a network waits after its ``failures``-th failure (pure: tested alone)."""
    over = failures - rules.free_failures
    if over <= 0:
        return timedelta(0)
    return min(rules.base_delay * (2 ** min(over - 1, 30)), rules.max_delay)


def network_of(address: str | None) -> str:
    """The network an address belongs to: IPv4 /24, IPv6 /64 (one office, one household)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def request_network() -> str:
    return network_of(request.remote_addr)


def _row(user: User, network: str) -> LoginNetwork:
    found = db.session.scalar(
        select(LoginNetwork).where(LoginNetwork.user_id == user.id, LoginNetwork.network == network)
    )
    if found is not None:
        return found
    row = LoginNetwork(user_id=user.id, network=network, failures=0)
    try:
        with db.session.begin_nested():  # another worker may insert the same row at once
            db.session.add(row)
    except IntegrityError:
        found = db.session.scalar(
            select(LoginNetwork).where(
                LoginNetwork.user_id == user.id, LoginNetwork.network == network
            )
        )
        assert found is not None
        return found
    return row


def is_usual_network(user: User, network: str) -> bool:
    return (
        db.session.scalar(
            select(LoginNetwork.id).where(
                LoginNetwork.user_id == user.id,
                LoginNetwork.network == network,
                LoginNetwork.last_success_at.is_not(None),
            )
        )
        is not None
    )


def blocked(user: User, network: str, now: datetime | None = None) -> bool:
    """True while ``network`` must wait, or while the account is closed to unknown networks."""
    now = now or utcnow()
    row = db.session.scalar(
        select(LoginNetwork).where(LoginNetwork.user_id == user.id, LoginNetwork.network == network)
    )
    if row is not None and row.blocked_until is not None and as_utc(row.blocked_until) > now:
        return True
    if user.is_locked(now):
        return not (row is not None and row.last_success_at is not None)
    return False


def record_failure(user: User, network: str) -> None:
    """Count one failure of ``user`` from ``network`` and start or lengthen its delay; a
    lockout (the network's alert threshold, or the account-wide one) is an audit event and a
    mail to every admin. Caller commits."""
    rules, now = policy(), utcnow()
    row = _row(user, network)
    if (
        row.first_failed_at is not None
        and now - as_utc(row.first_failed_at) > rules.window
        and (row.blocked_until is None or as_utc(row.blocked_until) <= now)
    ):
        db.session.execute(
            update(LoginNetwork)
            .where(LoginNetwork.id == row.id)
            .values(failures=0, first_failed_at=None)
        )
    failures = db.session.execute(
        update(LoginNetwork)
        .where(LoginNetwork.id == row.id)
        .values(failures=LoginNetwork.failures + 1)
        .returning(LoginNetwork.failures)
    ).scalar_one()
    delay = delay_after(failures, rules)
    values: dict[str, object] = {}
    if failures == 1:
        values["first_failed_at"] = now
    if delay:
        values["blocked_until"] = now + delay
    if values:
        db.session.execute(update(LoginNetwork).where(LoginNetwork.id == row.id).values(**values))
    db.session.refresh(row)
    if failures == rules.alert_failures:
        _lockout(user, scope="network", network=network, until=now + delay)
    _count_for_account(user, rules, now)


def _count_for_account(user: User, rules: Policy, now: datetime) -> None:
    if user.first_failed_at is None or now - as_utc(user.first_failed_at) > rules.window:
        user.first_failed_at, user.failed_logins = now, 0
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= rules.account_failures and not user.is_locked(now):
        user.locked_until = now + rules.account_lock
        user.failed_logins, user.first_failed_at = 0, None
        _lockout(user, scope="account", network=None, until=user.locked_until)


def record_success(user: User, network: str) -> None:
    """The network becomes one of the account's usual ones; its failures are forgotten."""
    row = _row(user, network)
    row.failures, row.first_failed_at, row.blocked_until = 0, None, None
    row.last_success_at = utcnow()


def _lockout(user: User, *, scope: str, network: str | None, until: datetime) -> None:
    audit.record(
        "login.lockout",
        object_type="user",
        object_id=user.id,
        details={"scope": scope, "network": network, "until": until.isoformat()},
        actor="public",
    )
    admins = db.session.scalars(select(User).where(User.role == "admin", User.active.is_(True)))
    where = network or "多个网络"
    for admin in admins:
        outbox.enqueue(
            to=admin.email,
            subject=f"[巡察整改意见反馈] 登录保护：账户 {user.email} 多次登录失败",
            text=(
                f"账户 {user.email} 在短时间内多次登录失败（来源：{where}）。\n"
                f"系统已对该来源暂停登录至 {to_local(until):%Y-%m-%d %H:%M}（北京时间）；"
                "该账户常用网络的登录不受影响。\n"
                "如非本人操作，请在后台“审计日志”中查看详情。"
            ),
            kind="security",
        )
