"""WebAuthn second factor (security keys, platform authenticators) with py_webauthn.

The ceremonies need no JSON endpoints: the page carries the options in a data- attribute,
static/js/staff.js asks the browser (navigator.credentials) and puts the answer in a hidden
form field, and the form posts it with its CSRF token. The challenge stays in the session
(it is single-use: popped when checked).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import current_app, request, session
from sqlalchemy import select, update
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.extensions import db
from portal.staff.models import User, WebAuthnCredential
from portal.workdays import utcnow

CHALLENGE_KEY = "webauthn_challenge"


def _rp_id() -> str:
    return current_app.config.get("WEBAUTHN_RP_ID") or (request.host.rsplit(":", 1)[0])


def _origin() -> str:
    parts = urlsplit(request.host_url)
    return f"{parts.scheme}://{parts.netloc}"


def registration_options(user: User) -> str:
    """Options (JSON) for navigator.credentials.create; remembers the challenge."""
    options = generate_registration_options(
        rp_id=_rp_id(),
        rp_name=current_app.config["WEBAUTHN_RP_NAME"],
        user_name=user.email,
        user_id=str(user.id).encode(),
        user_display_name=user.display_name or user.email,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=c.credential_id) for c in user.webauthn_credentials
        ],
    )
    session[CHALLENGE_KEY] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def authentication_options(user: User) -> str:
    """Options (JSON) for navigator.credentials.get; remembers the challenge."""
    options = generate_authentication_options(
        rp_id=_rp_id(),
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=c.credential_id) for c in user.webauthn_credentials
        ],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    session[CHALLENGE_KEY] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def _challenge() -> bytes | None:
    value = session.pop(CHALLENGE_KEY, None)
    return base64url_to_bytes(value) if isinstance(value, str) else None


def register(user: User, answer: str, name: str) -> WebAuthnCredential | None:
    """Store the credential the browser created, or None when it does not verify (caller
    commits)."""
    challenge = _challenge()
    if challenge is None or not answer:
        return None
    try:
        verified = verify_registration_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(),
            expected_origin=_origin(),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None
    credential = WebAuthnCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name[:120] or "安全密钥",
    )
    user.webauthn_credentials.append(credential)
    return credential


def authenticate(user: User, answer: str) -> bool:
    """True when the browser's assertion verifies against one of the user's credentials; the
    signature counter is advanced by a compare-and-set UPDATE (a replayed assertion fails)."""
    challenge = _challenge()
    if challenge is None or not answer:
        return False
    try:
        raw_id = base64url_to_bytes(json.loads(answer)["rawId"])
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return False
    stored = db.session.scalar(
        select(WebAuthnCredential).where(
            WebAuthnCredential.user_id == user.id, WebAuthnCredential.credential_id == raw_id
        )
    )
    if stored is None:
        return False
    try:
        verified = verify_authentication_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(),
            expected_origin=_origin(),
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    result = db.session.execute(
        update(WebAuthnCredential)
        .where(
            WebAuthnCredential.id == stored.id,
            WebAuthnCredential.sign_count == stored.sign_count,
        )
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
