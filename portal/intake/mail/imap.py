"""Fetch the public mailbox over IMAP: only new UIDs, the record committed before the mark moves.

Order per message: BODY.PEEK[] (never sets \\Seen by itself) -> ingest (commits) -> advance
MailboxState.last_uid (commits) -> optionally flag \\Seen or MOVE. A failing flag or move cannot
cause a second record, because ingest dedupes by Message-ID and content hash. Nothing is ever
deleted. A changed UIDVALIDITY resets the mark and rescans the folder, relying on that dedupe.
Only one fetcher runs at a time: a FetcherLock row holds a lease renewed after every batch.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.intake.mail.ingest import ingest
from portal.intake.mail.models import FetcherLock, MailboxState
from portal.intake.mail.store import MailStoreError

BATCH_SIZE = 50
LOCK_NAME = "imap-fetch"
LEASE = timedelta(minutes=5)
CONNECTION_ERRORS = (IMAPClientError, imaplib.IMAP4.error, OSError, socket.timeout, ssl.SSLError)


class _Stop(Exception):
    """Leave the folder loop early; FetchReport.error already says why."""


class FetcherBusy(RuntimeError):
    def __init__(self) -> None:
        super().__init__("another fetcher is running")


@dataclass
class FetchReport:
    folder: str = ""
    uidvalidity: int | None = None
    rescanned: bool = False
    seen: int = 0  # messages fetched this run
    last_uid: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # set when the run stopped early; the next run resumes

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        parts = [f"{kind} {n}" for kind, n in sorted(self.outcomes.items())]
        text = f"fetched {self.seen} from {self.folder}" + (
            ": " + ", ".join(parts) if parts else ""
        )
        if self.rescanned:
            text += " (UIDVALIDITY changed: folder rescanned)"
        return text + (f"; stopped: {self.error}" if self.error else "")


# Called after each message with (done, total, uid); tests use it to break things mid-run.
Progress = Callable[[int, int, int], None]


# --- the lock --------------------------------------------------------------------------------


def acquire_lock(holder: str, name: str = LOCK_NAME, lease: timedelta = LEASE) -> bool:
    """Take the lease if it is free or expired; atomic on SQLite and PostgreSQL alike."""
    if db.session.get(FetcherLock, name) is None:
        db.session.add(FetcherLock(name=name, holder=None, lease_until=None))
        try:
            db.session.commit()
        except IntegrityError:  # created concurrently: fine, it exists now
            db.session.rollback()
    now = datetime.now(UTC)
    result = db.session.execute(
        update(FetcherLock)
        .where(
            FetcherLock.name == name,
            (FetcherLock.lease_until.is_(None))
            | (FetcherLock.lease_until < now)
            | (FetcherLock.holder == holder),
        )
        .values(holder=holder, lease_until=now + lease)
    )
    db.session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew_lock(holder: str, name: str = LOCK_NAME, lease: timedelta = LEASE) -> None:
    db.session.execute(
        update(FetcherLock)
        .where(FetcherLock.name == name, FetcherLock.holder == holder)
        .values(lease_until=datetime.now(UTC) + lease)
    )
    db.session.commit()


def release_lock(holder: str, name: str = LOCK_NAME) -> None:
    db.session.rollback()
    db.session.execute(
        update(FetcherLock)
        .where(FetcherLock.name == name, FetcherLock.holder == holder)
        .values(holder=None, lease_until=None)
    )
    db.session.commit()


@contextmanager
def fetcher_lock(name: str = LOCK_NAME) -> Iterator[str]:
    holder = uuid.uuid4().hex
    if not acquire_lock(holder, name):
        raise FetcherBusy()
    try:
        yield holder
    finally:
        release_lock(holder, name)


# --- IMAP ------------------------------------------------------------------------------------


def connect(config: Mapping[str, Any]) -> IMAPClient:
    """Log in over TLS (MAIL_IMAP_SSL), STARTTLS (MAIL_IMAP_STARTTLS) or plain (loopback tests)."""
    use_ssl = bool(config.get("MAIL_IMAP_SSL"))
    context = ssl.create_default_context()
    client = IMAPClient(
        config["MAIL_IMAP_HOST"],
        port=int(config.get("MAIL_IMAP_PORT") or (993 if use_ssl else 143)),
        ssl=use_ssl,
        ssl_context=context if use_ssl else None,
        timeout=float(config.get("MAIL_IMAP_TIMEOUT") or 60),
    )
    if not use_ssl and config.get("MAIL_IMAP_STARTTLS"):
        client.starttls(context)
    client.login(config["MAIL_IMAP_USER"], config.get("MAIL_IMAP_PASSWORD") or "")
    return client


def _state(host: str, user: str, folder: str) -> MailboxState:
    query = select(MailboxState).where(
        MailboxState.host == host, MailboxState.username == user, MailboxState.folder == folder
    )
    state = db.session.scalar(query)
    if state is None:
        db.session.add(MailboxState(host=host, username=user, folder=folder, last_uid=0))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        state = db.session.scalar(query)
    assert state is not None
    return state


def fetch_once(
    app_config: Mapping[str, Any],
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FetchReport:
    """One pass over the configured folder (inside an app context). Raises FetcherBusy."""
    with fetcher_lock() as holder:
        report = FetchReport(folder=str(app_config.get("MAIL_IMAP_FOLDER") or "INBOX"))
        try:
            client = connect(app_config)
        except CONNECTION_ERRORS as exc:
            report.error = f"cannot connect: {exc}"
            return report
        try:
            _fetch_folder(client, app_config, report, holder, progress, should_stop)
        except _Stop:
            pass  # report.error says why
        except CONNECTION_ERRORS as exc:
            report.error = f"connection lost: {type(exc).__name__}: {exc}"
        finally:
            _logout(client)
        return report


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone
        with contextlib.suppress(Exception):
            client.shutdown()


def _fetch_folder(
    client: IMAPClient,
    config: Mapping[str, Any],
    report: FetchReport,
    holder: str,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    move_to = config.get("MAIL_IMAP_MOVE_TO")
    mark_seen = bool(config.get("MAIL_IMAP_MARK_SEEN"))
    selected = client.select_folder(report.folder, readonly=not (move_to or mark_seen))
    uidvalidity = int(selected[b"UIDVALIDITY"])
    state = _state(str(config["MAIL_IMAP_HOST"]), str(config["MAIL_IMAP_USER"]), report.folder)
    if state.uidvalidity is not None and state.uidvalidity != uidvalidity:
        state.last_uid = 0  # old UIDs mean nothing now: read everything, dedupe decides
        report.rescanned = True
    state.uidvalidity = uidvalidity
    db.session.commit()
    report.uidvalidity, report.last_uid = uidvalidity, state.last_uid
    uids = sorted(
        u for u in client.search(["UID", f"{state.last_uid + 1}:*"]) if u > state.last_uid
    )
    for start in range(0, len(uids), BATCH_SIZE):
        if should_stop is not None and should_stop():
            return
        batch = uids[start : start + BATCH_SIZE]
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in batch:
            item = fetched.get(uid)
            if item is not None and b"BODY[]" in item:
                _handle(client, item, uid, state, report, move_to, mark_seen)
            else:  # expunged meanwhile: nothing to read
                _advance(state, uid, report)
            if progress is not None:
                progress(report.seen, len(uids), uid)
        renew_lock(holder)


def _handle(
    client: IMAPClient,
    item: dict[bytes, Any],
    uid: int,
    state: MailboxState,
    report: FetchReport,
    move_to: str | None,
    mark_seen: bool,
) -> None:
    # Pending on the session, the new mark commits in the same transaction as the record (one
    # commit, never ahead of it); paths that roll back drop it, and _advance sets it again.
    state.last_uid = uid
    try:
        outcome = ingest(
            item[b"BODY[]"], source="imap", received_at=_aware(item.get(b"INTERNALDATE"))
        )
    except MailStoreError as exc:
        # Stop here without moving the mark: the message stays on the server for the next run.
        report.error = str(exc)
        raise _Stop() from exc
    report.outcomes[outcome.kind] += 1
    report.seen += 1
    _advance(state, uid, report)
    try:
        if move_to:
            client.move([uid], move_to)
        elif mark_seen:
            client.add_flags([uid], [b"\\Seen"])
    except (IMAPClientError, imaplib.IMAP4.error):
        # Recorded and marked already; seeing it again later is harmless thanks to dedupe.
        report.outcomes["flag-failed"] += 1


def _advance(state: MailboxState, uid: int, report: FetchReport) -> None:
    state.last_uid = uid
    db.session.commit()
    report.last_uid = uid


def _aware(moment: Any) -> datetime | None:
    # IMAPClient gives naive local times unless normalised; astimezone() reads those as local.
    return moment.astimezone(UTC) if isinstance(moment, datetime) else None
