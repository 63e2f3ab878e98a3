"""Second-factor pages: enrolment through an admin's one-time link, changing the factor and the
recovery codes from the account page (sudo mode), and the re-authentication page itself."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal import audit
from portal.extensions import db, limiter
from portal.staff import auth, enrolment, factors, security_keys, session_store, throttle, totp
from portal.staff.forms import (
    ConfirmForm,
    EnrolForm,
    EnrolPasswordForm,
    ReauthForm,
    SecurityKeyForm,
)
from portal.staff.models import EnrolmentLink, User
from portal.staff.passwords import verify_password
from portal.staff.recent_auth import mark_reauthenticated, recent_auth_required
from portal.staff.service import enrol_totp, renew_recovery_codes
from portal.staff.views import LOGIN_FAILED, TOO_MANY, bp, check_second_factor

Page = str | Response | tuple[str, int]
SEED_KEY = "enrol_secret"  # names the TOTP seed being enrolled, kept server-side
LINK_KEY = "enrol_link"  # the link whose password step passed: {"id", "user"}
LINK_INVALID = _l("该绑定链接无效、已过期或已被使用。请联系管理员重新生成。")


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


# ------------------------------------------------------------------------ enrolment link


@bp.route("/enrol/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def enrol_link(token: str) -> Page:
    """Password first (the link alone is not enough), then bind TOTP or a security key."""
    link = enrolment.valid_link(token)
    if link is None:
        return render_template("staff/enrol_password.html", form=None, error=LINK_INVALID), 404
    state = session.get(LINK_KEY) or {}
    if state.get("id") == link.id and state.get("user") == link.user_id:
        return _enrol(link.user, link=link)
    form = EnrolPasswordForm()
    if form.validate_on_submit():
        user = link.user
        network = throttle.request_network()
        if throttle.blocked(user, network) or not verify_password(
            user.password_hash, form.password.data or ""
        ):
            auth.register_failure(user, user.email, "enrolment link: wrong password")
            return render_template("staff/enrol_password.html", form=form, error=LOGIN_FAILED), 401
        session.clear()
        session[LINK_KEY] = {"id": link.id, "user": user.id}
        return redirect(url_for("staff.enrol_link", token=token))
    return render_template("staff/enrol_password.html", form=form, error=None), (
        400 if form.is_submitted() else 200
    )


# ------------------------------------------------------------------ account (sudo mode)


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
@recent_auth_required
def totp_setup() -> Page:
    return _enrol(current_user, link=None)


@bp.post("/account/recovery-codes")
@login_required
@recent_auth_required
def new_recovery_codes() -> Page:
    user: User = current_user
    if not ConfirmForm().validate_on_submit() or not user.has_second_factor:
        abort(400)
    codes = renew_recovery_codes(user)
    db.session.commit()
    return render_template(
        "staff/recovery_codes.html", codes=codes, next_url=url_for("staff.account")
    )


# -------------------------------------------------------------------------- the enrolment


def _enrol(user: User, *, link: EnrolmentLink | None) -> Page:
    secret = session_store.peek(SEED_KEY)
    if not isinstance(secret, str):
        secret = totp.new_secret()
        session_store.stash(SEED_KEY, secret)
    form, key_form = EnrolForm(), SecurityKeyForm()
    error = None
    if request.method == "POST" and "webauthn" in request.form:
        if key_form.validate_on_submit():
            name = key_form.name.data or ""
            if security_keys.register(user, key_form.webauthn.data or "", name) is not None:
                return _enrolled(user, link, method="webauthn")
        error = _("安全密钥未能注册，请重试。")
    elif form.validate_on_submit():
        counter = totp.accepted_counter(secret, form.code.data or "", None)
        if counter is not None:
            codes = enrol_totp(user, secret, counter)
            return _enrolled(user, link, method="totp", codes=codes)
        error = _("验证码不正确，请核对手机上的时间后重试。")
    return render_template(
        "staff/enrol.html",
        form=form,
        key_form=key_form,
        error=error,
        secret=secret,
        qr=totp.qr_data_uri(totp.provisioning_uri(secret, user.email)),
        at_login=link is not None,
        webauthn_options=security_keys.registration_options(user),
    ), (400 if error else 200)


def _enrolled(
    user: User, link: EnrolmentLink | None, *, method: str, codes: list[str] | None = None
) -> Page:
    """Finish: consume the link (once), log in when enrolling by link, show new recovery codes."""
    if method == "webauthn":
        audit.record(
            "user.2fa_enrol",
            object_type="user",
            object_id=user.id,
            actor=user.actor,
            details={"method": method},
        )
        if user.recovery_codes_left == 0:
            codes = factors.replace_recovery_codes(user)
    session_store.drop(session.get(SEED_KEY))
    session.pop(SEED_KEY, None)
    if link is not None:
        if not enrolment.consume(link):
            db.session.rollback()
            session.pop(LINK_KEY, None)
            return render_template("staff/enrol_password.html", form=None, error=LINK_INVALID), 409
        auth.complete_login(user, method=f"{method}-enrol")
    else:
        db.session.commit()
    next_url = url_for("staff.home") if link is not None else url_for("staff.account")
    if not codes:
        flash(_("安全密钥已添加。"), "info")
        return redirect(next_url)
    return render_template("staff/recovery_codes.html", codes=codes, next_url=next_url)


# ------------------------------------------------------------------------- re-authenticate


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def reauth() -> Page:
    """Password and second factor again, for sudo mode (staff.recent_auth)."""
    user: User = current_user
    form = ReauthForm()
    next_url = auth.safe_next(request.args.get("next"))
    error: Any = None
    if form.validate_on_submit():
        network = throttle.request_network()
        if throttle.blocked(user, network):
            error = TOO_MANY
        elif not verify_password(user.password_hash, form.password.data or ""):
            auth.register_failure(user, user.email, "reauth: wrong password")
            error = LOGIN_FAILED
        elif user.has_second_factor and check_second_factor(user, form) is None:
            auth.register_failure(user, user.email, "reauth: wrong second factor")
            error = LOGIN_FAILED
        else:
            mark_reauthenticated()
            audit.record("login.reauth", object_type="user", object_id=user.id)
            db.session.commit()
            return redirect(next_url)
    options = security_keys.authentication_options(user) if user.webauthn_credentials else None
    status = 401 if error else (400 if form.is_submitted() else 200)
    return render_template(
        "staff/reauth.html", form=form, error=error, webauthn_options=options
    ), status
