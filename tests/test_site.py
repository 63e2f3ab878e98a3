"""Behaviour every page shares (portal/site.py): error pages that state this deployment's facts."""

from __future__ import annotations

import io
from typing import Any

import pytest

MB = 1024 * 1024


def _post_too_much(client: Any, url: str, size: int) -> Any:
    big = io.BytesIO(b"\x00" * size)
    return client.post(
        url, data={"body": "x" * 20, "attachments": (big, "scan.pdf")}, buffered=True
    )


@pytest.mark.config(
    UPLOAD_MAX_FILE_BYTES=3 * MB, UPLOAD_MAX_TOTAL_BYTES=4 * MB, MAX_CONTENT_LENGTH=5 * MB
)
def test_the_413_page_states_the_configured_upload_limits(
    client: Any, published_notice: str
) -> None:
    url = f"/notices/{published_notice}/feedback"
    response = _post_too_much(client, url, 6 * MB)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "上传内容过大" in html
    assert "每个文件不超过3MB，合计不超过4MB" in html
    assert "10MB" not in html and "25MB" not in html
    english = _post_too_much(client, url + "?lang=en", 6 * MB).get_data(as_text=True)
    assert "at most 3 MB per file and 4 MB in all" in english


@pytest.mark.config(
    UPLOAD_MAX_FILE_BYTES=3 * MB, UPLOAD_MAX_TOTAL_BYTES=4 * MB, MAX_CONTENT_LENGTH=MB + MB // 2
)
def test_a_smaller_request_cap_is_the_limit_the_413_page_states(
    client: Any, published_notice: str
) -> None:
    response = _post_too_much(client, f"/notices/{published_notice}/feedback", 2 * MB)
    assert response.status_code == 413
    assert "每个文件不超过1.5MB，合计不超过1.5MB" in response.get_data(as_text=True)


def test_the_default_413_message_is_unchanged(client: Any, published_notice: str) -> None:
    response = _post_too_much(client, f"/notices/{published_notice}/feedback", 27 * MB)
    assert response.status_code == 413
    assert "每个文件不超过10MB，合计不超过25MB。请压缩或分次提交。" in response.get_data(
        as_text=True
    )
