"""`flask mail ingest FILE|-` (a Postfix pipe), `flask mail fetch --once|--loop`, `mail spool`."""

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

from portal.intake.mail.imap import FetcherBusy, FetchReport, fetch_once
from portal.intake.mail.ingest import drain_spool, ingest
from portal.intake.mail.store import MailStoreError

mail_cli = AppGroup("mail", help="Inbound mail: ingest one message, fetch the IMAP mailbox.")

# sysexits EX_TEMPFAIL: Postfix and other MTAs keep the message and retry later.
EX_TEMPFAIL = 75


@mail_cli.command("ingest")
@click.argument("source", type=click.File("rb"))
def ingest_command(source: Any) -> None:
    """Read one raw RFC 5322 message from SOURCE (a file or -) and print one outcome line."""
    raw = source.read()
    try:
        outcome = ingest(raw, source="pipe")
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


def _progress_bar() -> tuple[Any, Any]:
    """A tqdm bar on a terminal, nothing otherwise (cron and systemd logs stay clean)."""
    if not sys.stdout.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(unit="msg", desc="mail fetch")

    def update(done: int, total: int, uid: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _one_pass(should_stop: Any) -> FetchReport | None:
    bar, update = _progress_bar()
    try:
        return fetch_once(current_app.config, progress=update, should_stop=should_stop)
    except FetcherBusy as exc:
        click.echo(str(exc), err=True)
        return None
    finally:
        if bar is not None:
            bar.close()


@mail_cli.command("fetch")
@click.option("--once", "mode", flag_value="once", default=True, help="One pass, then exit.")
@click.option("--loop", "mode", flag_value="loop", help="Fetch every --interval seconds.")
@click.option("--interval", default=60, show_default=True, type=click.IntRange(min=1))
def fetch_command(mode: str, interval: int) -> None:
    """Fetch new messages from the IMAP folder (MAIL_IMAP_* config) and ingest them."""
    if not current_app.config.get("MAIL_IMAP_HOST") or not current_app.config.get("MAIL_IMAP_USER"):
        click.echo("MAIL_IMAP_HOST and MAIL_IMAP_USER are not configured", err=True)
        sys.exit(2)
    stopper = _Stopper()
    previous = stopper.install()
    try:
        _fetch_loop(mode, interval, stopper)
    finally:
        stopper.restore(previous)


def _fetch_loop(mode: str, interval: int, stopper: _Stopper) -> None:
    while True:
        report = _one_pass(lambda: stopper.stopping)
        if report is not None:
            click.echo(report.summary())
        if mode == "once":
            if report is None:
                sys.exit(3)
            sys.exit(0 if report.ok else 1)
        deadline = time.monotonic() + interval
        while not stopper.stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if stopper.stopping:
            click.echo("stopped", err=True)
            return
