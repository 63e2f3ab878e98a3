"""The uploads filesystem is full (a 1 MB tmpfs): the citizen sees a clear Chinese error saying
nothing was submitted, and no row, no audit event, no file fragment is left behind."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.audit import Event
from portal.extensions import db
from portal.intake.models import Attachment, Submission
from tests.conftest import csrf_token_from
from tests.faults.conftest import cannot_set_up, need_root

pytestmark = [pytest.mark.faults]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    need_root("mount -t tmpfs")
    mount_point = tmp_path / "uploads"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        cannot_set_up(f"mount tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def app_config(full_disk: Path) -> dict[str, Any]:
    return {"UPLOADS_PATH": str(full_disk)}


def _counts() -> tuple[int, int, int]:
    db.session.rollback()
    return (
        db.session.scalar(select(func.count()).select_from(Submission)),
        db.session.scalar(select(func.count()).select_from(Attachment)),
        db.session.scalar(select(func.count()).select_from(Event)),
    )


def _post(client: Any, slug: str, body: str, files: list[tuple[bytes, str]]) -> Any:
    url = f"/notices/{slug}/feedback"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    data: dict[str, Any] = {"csrf_token": token, "body": body}
    if files:
        data["attachments"] = [(io.BytesIO(blob), name) for blob, name in files]
    return client.post(url, data=data, content_type="multipart/form-data")


def test_full_uploads_disk_gives_a_clear_error_and_leaves_nothing(
    app: Flask, published_notice: str, full_disk: Path
) -> None:
    client = app.test_client()
    scan = ("整改情况说明材料。" * 80_000).encode()  # 2 MB: more than the whole filesystem
    with app.app_context():
        before = _counts()

    answer = _post(client, published_notice, "附件很大的意见，磁盘满时提交。", [(scan, "a.txt")])

    page = answer.get_data(as_text=True)
    assert answer.status_code == 503
    assert "存储空间" in page and "尚未提交" in page
    assert "receipt-code" not in page
    with app.app_context():
        assert _counts() == before, "a partial record was left"
    leftovers = [p for p in full_disk.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers

    # Without a file, the same citizen can still submit: the database was never involved.
    small = _post(client, published_notice, "磁盘满时不带附件的意见，应当照常登记。", [])
    assert small.status_code == 303, small.get_data(as_text=True)[:300]
