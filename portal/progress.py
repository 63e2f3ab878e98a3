"""A progress bar for long CLI work (exports, purges, bulk imports, reindexing).

Shown only when the stream is a terminal: cron mail, logs and pipes stay free of bar
redraws (``\\r`` lines that make a log unreadable). Pure: no Flask; click draws the bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

Advance = Callable[[int], None]


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _quiet(_steps: int) -> None:
    """Off a terminal the work goes on without a bar."""


@contextmanager
def progress(
    total: int, label: str, stream: TextIO | None = None, *, enabled: bool = True
) -> Iterator[Advance]:
    """``with progress(n, "导出") as advance: ... advance(1)``: a bar on stderr when it is a
    terminal (on stderr, so a CLI writing its data to stdout keeps that clean), nothing
    otherwise or when not ``enabled`` (a library call outside the CLI)."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or not on_terminal(stream):
        yield _quiet
        return
    with click.progressbar(
        length=total,
        label=label,
        file=stream,
        show_pos=True,
        show_percent=True,
        show_eta=True,
        width=30,
    ) as bar:
        yield bar.update


# --- keep-alive for long streamed responses --------------------------------------------------

_keepalive: list[Callable[[], None]] = []


def set_keepalive(beat: Callable[[], None]) -> None:
    """What tells the server process this worker is alive (gunicorn's worker.notify, set in
    deploy/gunicorn.conf.py); a streamed download calls keepalive() as it goes."""
    _keepalive[:] = [beat]


def keepalive() -> None:
    for beat in _keepalive:
        beat()
