"""hCaptcha siteverify, our own small client (no Flask import).

Why not the PyPI ``hcaptcha`` client: its verify call returns the decoded response dict, which is
truthy even when ``success`` is false, so a careless ``if verify(...)`` lets every bot through; and
it sets no timeout, so a slow siteverify would hang a worker forever. Here the answer is an enum
with three outcomes, because "the captcha service is down" must be handled differently from
"the captcha was wrong": the former keeps the submission (status held), the latter sends the
form back.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import requests

log = logging.getLogger(__name__)

DEFAULT_VERIFY_URL = "https://api.hcaptcha.com/siteverify"
# Error codes that mean our own configuration is wrong: the citizen is not to blame, so the
# submission is kept for review instead of being refused.
CONFIG_ERRORS = frozenset(
    {"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch", "bad-request"}
)


class CaptchaResult(enum.Enum):
    OK = "ok"
    REJECTED = "rejected"  # siteverify says no: the form comes back, nothing is stored
    UNAVAILABLE = "unavailable"  # network error, timeout, 5xx, non-JSON: record as held


@dataclass(frozen=True)
class CaptchaSettings:
    sitekey: str | None
    secret: str | None
    verify_url: str = DEFAULT_VERIFY_URL
    timeout: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.sitekey and self.secret)

    @classmethod
    def from_config(cls, config: dict) -> CaptchaSettings:
        return cls(
            sitekey=config.get("HCAPTCHA_SITEKEY") or None,
            secret=config.get("HCAPTCHA_SECRET") or None,
            verify_url=config.get("HCAPTCHA_VERIFY_URL") or DEFAULT_VERIFY_URL,
            timeout=float(config.get("HCAPTCHA_TIMEOUT") or 5.0),
        )


def verify(settings: CaptchaSettings, token: str | None, remoteip: str | None) -> CaptchaResult:
    """Ask siteverify about ``token``; never raises, never waits longer than the timeout."""
    if not token:
        return CaptchaResult.REJECTED  # the widget was not solved: no need to ask
    payload = {"secret": settings.secret, "response": token, "sitekey": settings.sitekey}
    if remoteip:
        payload["remoteip"] = remoteip
    try:
        response = requests.post(settings.verify_url, data=payload, timeout=settings.timeout)
    except requests.RequestException as exc:
        log.warning("hCaptcha siteverify unreachable: %s", exc)
        return CaptchaResult.UNAVAILABLE
    if response.status_code >= 500:
        log.warning("hCaptcha siteverify answered HTTP %s", response.status_code)
        return CaptchaResult.UNAVAILABLE
    try:
        answer = response.json()
    except ValueError:
        log.warning("hCaptcha siteverify answered non-JSON (HTTP %s)", response.status_code)
        return CaptchaResult.UNAVAILABLE
    if not isinstance(answer, dict):
        return CaptchaResult.UNAVAILABLE
    if answer.get("success") is True:
        return CaptchaResult.OK
    codes = set(answer.get("error-codes") or ())
    if codes & CONFIG_ERRORS:
        log.error("hCaptcha rejects our configuration: %s", sorted(codes))
        return CaptchaResult.UNAVAILABLE
    return CaptchaResult.REJECTED


def warn_if_disabled(settings: CaptchaSettings, logger: logging.Logger) -> None:
    """Called once at app start: an unprotected public form should not go unnoticed."""
    if not settings.enabled:
        logger.warning(
            "hCaptcha is OFF: set HCAPTCHA_SITEKEY and HCAPTCHA_SECRET to protect the "
            "feedback form against bots"
        )
