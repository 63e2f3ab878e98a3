"""`flask mail ingest FILE|- [--office SLUG]` (a Postfix pipe), `flask mail fetch --once|--loop
[--office SLUG]` (every mailbox: the shared one and each office's own), `mail spool`,
`mail encrypt-raw` (raw mail stored before encryption at rest)."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from types import FrameType
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from portal.intake.mail.imap import FetchReport, fetch_all
from portal.intake.mail.ingest import drain_spool, ingest
from portal.intake.mail.mailboxes import configured_mailboxes
from portal.intake.mail.store import IngestOutcome, MailStoreError, seal_old_rows
from portal.offices.service import OfficeError, office_or_error

mail_cli = AppGroup("mail", help="Inbound mail: ingest one message, fetch the IMAP mailboxes.")

# sysexits EX_TEMPFAIL: Postfix and other MTAs keep the message and retry later.
EX_TEMPFAIL = 75
EX_USAGE = 2
EX_BUSY = 3  # another fetcher holds a mailbox's lease


def _office_id(slug: str | None) -> int | None:
    if slug is None:
        return None
    try:
        return office_or_error(slug).id
    except OfficeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EX_USAGE)


@mail_cli.command("ingest")
@click.argument("source", type=click.File("rb"))
@click.option("--office", "office_slug", help="As if from this office's own mailbox.")
def ingest_command(source: Any, office_slug: str | None) -> None:
    """Read one raw RFC 5322 message from SOURCE (a file or -) and print one outcome line.

    Without --office the message is routed like one on the shared mailbox."""
    office_id = _office_id(office_slug)
    raw = source.read()
    try:
        outcome = ingest(raw, source="pipe", office_id=office_id)
    except MailStoreError as exc:
        where = f"; spooled to {exc.spool_path}" if exc.spool_path else "; NOT spooled"
        click.echo(f"error: {exc}{where}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(outcome.line())


@mail_cli.command("spool")
def spool_command() -> None:
    """Ingest the messages spooled while the database was down (one line each)."""
    try:
        for path, outcome in drain_spool():
            click.echo(f"{path.name}: {outcome.line()}")
    except Exception as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)


@mail_cli.command("encrypt-raw")
def encrypt_raw_command() -> None:
    """Encrypt the raw mail kept before it was encrypted at rest (safe to run again)."""
    click.echo(f"encrypted {seal_old_rows()} raw messages")


class _Stopper:
    """SIGTERM/SIGINT ask the loop to finish the current message and stop."""

    def __init__(self) -> None:
        self.stopping = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def install(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Outside the main thread (embedded use) there is no signal handling.
            with contextlib.suppress(ValueError):
                previous[signum] = signal.signal(signum, self)
        return previous

    @staticmethod
    def restore(previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _progress_bar() -> tuple[Any, Any, Any]:
    """A tqdm bar on a terminal, nothing otherwise (cron and systemd logs stay clean); and how
    to print a line without breaking the bar."""
    if not sys.stdout.isatty():
        return None, None, click.echo
    from tqdm import tqdm

    bar = tqdm(unit="msg", desc="mail fetch")

    def update(done: int, total: int, uid: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update, bar.write


def _one_pass(office_slug: str | None, should_stop: Any) -> list[FetchReport]:
    """Every mailbox once: one contract line per message as it is committed, then one summary
    line per mailbox (a busy or failing one on stderr)."""
    bar, update, write = _progress_bar()

    def show(outcome: IngestOutcome) -> None:
        write(outcome.line())

    try:
        reports = fetch_all(
            current_app.config,
            office_slug=office_slug,
            progress=update,
            should_stop=should_stop,
            on_outcome=show,
        )
    finally:
        if bar is not None:
            bar.close()
    for report in reports:
        click.echo(report.summary(), err=not report.ok)
    return reports


def _exit_code(reports: list[FetchReport]) -> int:
    if any(r.error for r in reports):
        return 1
    return EX_BUSY if any(r.busy for r in reports) else 0


@mail_cli.command("fetch")
@click.option("--once", "mode", flag_value="once", default=True, help="One pass, then exit.")
@click.option("--loop", "mode", flag_value="loop", help="Fetch every --interval seconds.")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(min=1))
@click.option("--office", "office_slug", help="Only this office's own mailbox.")
def fetch_command(mode: str, interval: int, office_slug: str | None) -> None:
    """Fetch new messages from every IMAP mailbox and ingest them: the shared one (MAIL_IMAP_*
    config, routed to offices) and each active office's own."""
    try:
        mailboxes = configured_mailboxes(current_app.config, office_slug)
    except OfficeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EX_USAGE)
    if not mailboxes:
        click.echo(
            "no mailbox configured: set MAIL_IMAP_HOST and MAIL_IMAP_USER, "
            "or an office's IMAP settings",
            err=True,
        )
        sys.exit(EX_USAGE)
    stopper = _Stopper()
    previous = stopper.install()
    try:
        _fetch_loop(mode, interval, office_slug, stopper)
    finally:
        stopper.restore(previous)


def _fetch_loop(mode: str, interval: int, office_slug: str | None, stopper: _Stopper) -> None:
    while True:
        reports = _one_pass(office_slug, lambda: stopper.stopping)
        if mode == "once":
            sys.exit(_exit_code(reports))
        deadline = time.monotonic() + interval
        while not stopper.stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if stopper.stopping:
            click.echo("stopped", err=True)
            return
