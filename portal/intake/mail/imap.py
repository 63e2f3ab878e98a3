"""Fetch the mailboxes over IMAP: only new UIDs, the record committed before the mark moves.

Order per message: BODY.PEEK[] (never sets \\Seen by itself) -> ingest (commits) -> advance
MailboxState.last_uid (commits) -> optionally flag \\Seen or MOVE. A failing flag or move cannot
cause a second record, because ingest dedupes by Message-ID and content hash. Nothing is ever
deleted. A changed UIDVALIDITY resets the mark and rescans the folder, relying on that dedupe.
Only one fetcher reads a mailbox at a time: a FetcherLock row per mailbox holds a lease renewed
after every batch. ``fetch_all`` reads every mailbox (mailboxes.py) one after another; a mailbox
that fails or is busy is reported and the others are still read.
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
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import leases
from portal.extensions import db
from portal.intake.mail.ingest import ingest
from portal.intake.mail.mailboxes import Mailbox, configured_mailboxes
from portal.intake.mail.models import FetcherLock, MailboxState
from portal.intake.mail.store import IngestOutcome, MailStoreError

BATCH_SIZE = 50
LOCK_NAME = "imap-fetch"  # a lease for callers without a mailbox; each mailbox has its own
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
    label: str = ""  # which mailbox: the folder for the shared one, "<office>/<folder>" else
    uidvalidity: int | None = None
    rescanned: bool = False
    seen: int = 0  # messages fetched this run
    last_uid: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # set when the run stopped early; the next run resumes
    busy: bool = False  # another fetcher holds this mailbox's lease: nothing was read

    @property
    def ok(self) -> bool:
        return self.error is None and not self.busy

    def summary(self) -> str:
        if self.busy:
            return f"{self.label or self.folder}: {FetcherBusy()}"
        parts = [f"{kind} {n}" for kind, n in sorted(self.outcomes.items())]
        text = f"fetched {self.seen} from {self.label or self.folder}" + (
            ": " + ", ".join(parts) if parts else ""
        )
        if self.rescanned:
            text += " (UIDVALIDITY changed: folder rescanned)"
        return text + (f"; stopped: {self.error}" if self.error else "")


# Called after each message with (done, total, uid); tests use it to break things mid-run.
Progress = Callable[[int, int, int], None]
# Called with each message's outcome as soon as it is committed (the CLI prints its line).
OnOutcome = Callable[[IngestOutcome], None]


# --- the lock --------------------------------------------------------------------------------


def acquire_lock(holder: str, name: str = LOCK_NAME, lease: timedelta = LEASE) -> bool:
    """Take the mailbox's lease if it is free or expired (portal.leases)."""
    return leases.acquire(FetcherLock, name, holder, lease)


def renew_lock(holder: str, name: str = LOCK_NAME, lease: timedelta = LEASE) -> None:
    leases.renew(FetcherLock, name, holder, lease)


def release_lock(holder: str, name: str = LOCK_NAME) -> None:
    leases.release(FetcherLock, name, holder)


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


def connect(mailbox: Mailbox) -> IMAPClient:
    """Log in over TLS (ssl), STARTTLS (starttls) or plain (loopback tests). The server's
    certificate is always verified: against the system CAs, plus MAIL_IMAP_CA_FILE if set."""
    context = ssl.create_default_context(cafile=mailbox.ca_file)
    if mailbox.ca_file:
        context.load_default_certs()
    client = IMAPClient(
        mailbox.host,
        port=mailbox.port or (993 if mailbox.ssl else 143),
        ssl=mailbox.ssl,
        ssl_context=context if mailbox.ssl else None,
        timeout=mailbox.timeout,
    )
    if not mailbox.ssl and mailbox.starttls:
        client.starttls(context)
    client.login(mailbox.user, mailbox.password)
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
    on_outcome: OnOutcome | None = None,
) -> FetchReport:
    """One pass over the shared mailbox (MAIL_IMAP_*; inside an app context). Raises
    FetcherBusy."""
    mailbox = Mailbox.shared(app_config)
    if mailbox is None:
        raise ValueError("MAIL_IMAP_HOST and MAIL_IMAP_USER are not configured")
    return fetch_mailbox(mailbox, progress=progress, should_stop=should_stop, on_outcome=on_outcome)


def fetch_all(
    app_config: Mapping[str, Any],
    *,
    office_slug: str | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_outcome: OnOutcome | None = None,
) -> list[FetchReport]:
    """One pass over every mailbox (or ``office_slug``'s only), one report each; a mailbox that
    is busy or fails is reported and the next one is read. Raises OfficeError for a bad slug."""
    reports = []
    for mailbox in configured_mailboxes(app_config, office_slug):
        if should_stop is not None and should_stop():
            break
        try:
            report = fetch_mailbox(
                mailbox, progress=progress, should_stop=should_stop, on_outcome=on_outcome
            )
        except FetcherBusy:
            report = FetchReport(folder=mailbox.folder, label=mailbox.label, busy=True)
        except Exception as exc:  # one broken mailbox must not stop the others
            db.session.rollback()
            report = FetchReport(folder=mailbox.folder, label=mailbox.label)
            report.error = f"failed: {type(exc).__name__}: {exc}"
        reports.append(report)
    return reports


def fetch_mailbox(
    mailbox: Mailbox,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_outcome: OnOutcome | None = None,
) -> FetchReport:
    """One pass over one mailbox under its own lease (inside an app context). Raises
    FetcherBusy."""
    with fetcher_lock(mailbox.lock_name) as holder:
        report = FetchReport(folder=mailbox.folder, label=mailbox.label)
        try:
            client = connect(mailbox)
        except CONNECTION_ERRORS as exc:
            report.error = f"cannot connect: {exc}"
            return report
        run = _Run(mailbox, report, holder, progress, should_stop, on_outcome)
        try:
            _fetch_folder(client, run)
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


@dataclass
class _Run:
    """One pass over one mailbox: where, what to report, and the caller's hooks."""

    mailbox: Mailbox
    report: FetchReport
    holder: str
    progress: Progress | None
    should_stop: Callable[[], bool] | None
    on_outcome: OnOutcome | None


def _fetch_folder(client: IMAPClient, run: _Run) -> None:
    mailbox, report = run.mailbox, run.report
    selected = client.select_folder(
        mailbox.folder, readonly=not (mailbox.move_to or mailbox.mark_seen)
    )
    uidvalidity = int(selected[b"UIDVALIDITY"])
    state = _state(mailbox.host, mailbox.user, mailbox.folder)
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
        if run.should_stop is not None and run.should_stop():
            return
        batch = uids[start : start + BATCH_SIZE]
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in batch:
            item = fetched.get(uid)
            if item is not None and b"BODY[]" in item:
                _handle(client, item, uid, state, run)
            else:  # expunged meanwhile: nothing to read
                _advance(state, uid, report)
            if run.progress is not None:
                run.progress(report.seen, len(uids), uid)
        renew_lock(run.holder, mailbox.lock_name)


def _handle(
    client: IMAPClient, item: dict[bytes, Any], uid: int, state: MailboxState, run: _Run
) -> None:
    report, mailbox = run.report, run.mailbox
    # Pending on the session, the new mark commits in the same transaction as the record (one
    # commit, never ahead of it); paths that roll back drop it, and _advance sets it again.
    state.last_uid = uid
    try:
        outcome = ingest(
            item[b"BODY[]"],
            source="imap",
            received_at=_aware(item.get(b"INTERNALDATE")),
            office_id=mailbox.office_id,
        )
    except MailStoreError as exc:
        # Stop here without moving the mark: the message stays on the server for the next run.
        report.error = str(exc)
        raise _Stop() from exc
    report.outcomes[outcome.kind] += 1
    report.seen += 1
    _advance(state, uid, report)
    if run.on_outcome is not None:
        run.on_outcome(outcome)
    try:
        if mailbox.move_to:
            client.move([uid], mailbox.move_to)
        elif mailbox.mark_seen:
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
