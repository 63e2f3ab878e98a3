"""Long CLI work shows a progress bar on a terminal and nothing in a pipe or a log (issue #18).

CliRunner's streams are never terminals, so the terminal case is tested with a stream that says
it is one (isatty() True), the way a shell's stderr does."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest
from flask import Flask

from portal.progress import on_terminal, progress
from tests.test_export import Dataset
from tests.test_export import dataset as dataset


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")  # as a real closed tty does
        return True


def test_a_bar_with_label_and_count_on_a_terminal() -> None:
    screen = Terminal()
    with progress(40, "导出台账", screen) as advance:
        for _ in range(40):
            advance(1)
    shown = screen.getvalue()
    assert "导出台账" in shown
    assert "40/40" in shown and "100%" in shown


@pytest.mark.parametrize("stream", [io.StringIO(), io.BytesIO()])
def test_nothing_in_a_pipe_or_a_file(stream: Any) -> None:
    with progress(40, "导出台账", stream) as advance:
        for _ in range(40):
            advance(1)
    assert stream.getvalue() in ("", b"")


def test_nothing_when_not_enabled_even_on_a_terminal() -> None:
    screen = Terminal()
    with progress(3, "清除个人信息", screen, enabled=False) as advance:
        advance(3)
    assert screen.getvalue() == ""


def test_on_terminal_answers_false_for_a_closed_stream() -> None:
    closed = Terminal()
    closed.close()
    assert on_terminal(Terminal()) and not on_terminal(closed)
    assert not on_terminal(io.StringIO())


def test_cli_export_in_a_pipe_writes_the_data_and_no_bar(dataset: Dataset, runner: Any) -> None:
    result = runner.invoke(args=["submissions", "export", "--format", "json"])
    assert result.exit_code == 0
    assert [r["code"] for r in json.loads(result.stdout)] == list(dataset.codes.values())
    assert result.stderr == ""


def test_cli_export_on_a_terminal_counts_every_row(
    dataset: Dataset,
    app: Flask,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from portal.ledger.cli import export_command

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    target = tmp_path / "ledger.xlsx"
    with app.app_context():
        export_command.callback.__wrapped__(  # type: ignore[union-attr]
            "xlsx", None, None, None, None, str(target)
        )
    assert "导出台账" in screen.getvalue() and "7/7" in screen.getvalue()
    assert target.stat().st_size > 0


def test_purge_shows_a_bar_on_a_terminal_only_from_the_cli(
    app: Flask, notice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.intake.retention import purge
    from tests.test_retention import _close, _record

    for _ in range(3):
        _close(_record(notice, attachments=[]), days_ago=400)
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    assert purge(365).submissions == 3  # a library call (the admin page's): quiet
    assert screen.getvalue() == ""
    for _ in range(2):
        _close(_record(notice, attachments=[]), days_ago=400)
    assert purge(365, show_progress=True).submissions == 2
    assert "清除个人信息" in screen.getvalue() and "2/2" in screen.getvalue()


def test_reindex_rebuilds_lost_search_rows_with_a_bar_on_a_terminal_only(
    dataset: Dataset,
    app: Flask,
    runner: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy import delete, func, select

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.triage.cli import reindex_command
    from portal.triage.models import SubmissionSearch
    from portal.triage.search import search_condition

    def found(term: str) -> set[str]:
        condition = search_condition(term, db.session.get_bind().dialect.name)
        return set(db.session.scalars(select(Submission.code).where(condition)))

    with app.app_context():
        db.session.execute(delete(SubmissionSearch))  # a restore without the search table
        db.session.commit()
        assert found("食堂浪费") == set()
    result = runner.invoke(args=["triage", "reindex", "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert result.output == "reindexed 7 submissions\n"  # a pipe: one line, no bar
    with app.app_context():
        assert found("食堂浪费") == set(dataset.codes.values())
        assert db.session.scalar(select(func.count()).select_from(SubmissionSearch)) == 7

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with app.app_context():
        reindex_command.callback.__wrapped__(batch=5)  # type: ignore[union-attr]
    assert "重建检索索引" in screen.getvalue() and "7/7" in screen.getvalue()


def test_a_gunicorn_worker_streaming_a_download_tells_the_arbiter_it_is_alive() -> None:
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    from portal.progress import keepalive, set_keepalive

    conf = Path(__file__).parent.parent / "deploy" / "gunicorn.conf.py"
    hooks = runpy.run_path(str(conf))
    beats: list[int] = []
    worker = SimpleNamespace(
        age=2,
        cfg=SimpleNamespace(workers=1),
        wsgi=lambda environ, start: [],
        notify=lambda: beats.append(1),
    )
    try:
        hooks["post_worker_init"](worker)
        keepalive()
        keepalive()
    finally:
        set_keepalive(lambda: None)
    assert beats == [1, 1]
