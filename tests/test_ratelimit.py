"""Rate limits on the public POSTs, against memory storage and against Redis.

With CI=true an unreachable Redis fails the run; locally the Redis case is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import form_post
from tests.test_intake_web import BODY, count_submissions, submit

CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["memory", "redis"])
def storage_uri(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        if CI:
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {exc}", pytrace=False)
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield REDIS_URL
    assert client.dbsize() > 0, "the limiter really counted in Redis"
    client.flushdb()
    client.close()


@pytest.fixture
def app_config(storage_uri: str) -> dict[str, Any]:
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": storage_uri,
        "RATELIMIT_SUBMIT": "3/minute;30/day",
        "RATELIMIT_TRACK": "4/minute",
    }


def test_submissions_per_ip_are_limited(
    client: FlaskClient, published_notice: str, app: Flask
) -> None:
    url = f"/notices/{published_notice}/feedback"
    for _ in range(3):
        assert submit(client, url, {"body": BODY}).status_code == 303
    over = submit(client, url, {"body": BODY})
    assert over.status_code == 429
    html = over.get_data(as_text=True)
    assert "操作过于频繁" in html and "请稍后再试" in html
    assert count_submissions(app) == 3
    assert client.get(url).status_code == 200, "reading the form is never limited"


def test_another_ip_has_its_own_allowance(client: FlaskClient, published_notice: str) -> None:
    url = f"/notices/{published_notice}/feedback"
    for _ in range(4):
        submit(client, url, {"body": BODY})
    other = submit(client, url, {"body": BODY}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 303


def test_track_guesses_are_limited(client: FlaskClient) -> None:
    answers = [
        form_post(client, "/track", {"code": "00000-00000", "secret": "1" * 16}).status_code
        for _ in range(5)
    ]
    assert answers == [422, 422, 422, 422, 429]
    assert client.get("/track").status_code == 200
