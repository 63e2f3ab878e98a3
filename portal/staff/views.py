"""Staff pages: login (password, TOTP, enrolment), logout, own account, user administration."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.extensions import db, limiter
from portal.staff import auth, service, totp
from portal.staff.forms import (
    CodeForm,
    ConfirmForm,
    EnrolForm,
    LoginForm,
    PasswordChangeForm,
)
from portal.staff.models import ROLE_LABELS, User, utcnow
from portal.staff.service import enrol_totp, renew_recovery_codes

bp = Blueprint("staff", __name__, url_prefix="/staff")

LOGIN_FAILED = _l("登录失败：邮箱、密码或验证码不正确，或账户已被暂时锁定。请稍后再试。")
Page = str | Response | tuple[str, int]


def _status(form: Any) -> int:
    """400 for a submitted form that did not validate, 200 for a first look."""
    return 400 if form.is_submitted() else 200


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


@bp.get("/")
@login_required
def home() -> Page:
    return render_template("staff/home.html", role_labels=ROLE_LABELS)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Page:
    if current_user.is_authenticated:
        return redirect(auth.safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = auth.check_password(form.email.data or "", form.password.data or "")
        if user is None:
            return render_template("staff/login.html", form=form, error=LOGIN_FAILED), 401
        next_url = auth.safe_next(request.args.get("next"))
        if user.has_totp or auth.totp_required(user):
            auth.start_second_step(user)
            session["next"] = next_url
            db.session.commit()
            target = "staff.verify" if user.has_totp else "staff.enrol_at_login"
            return redirect(url_for(target))
        auth.complete_login(user, method="password")
        return redirect(next_url)
    return render_template("staff/login.html", form=form, error=None), _status(form)


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def verify() -> Page:
    user = auth.pending_user()
    if user is None or not user.has_totp:
        flash(_("请重新登录。"), "error")
        return redirect(url_for("staff.login"))
    form = CodeForm()
    if form.validate_on_submit():
        method = _check_second_factor(user, form.code.data or "")
        if method is None:
            auth.register_failure(user, user.email, "wrong second factor")
            if user.is_locked(utcnow()):
                session.clear()
                flash(LOGIN_FAILED, "error")
                return redirect(url_for("staff.login"))
            return render_template("staff/verify.html", form=form, error=LOGIN_FAILED), 401
        next_url = session.get("next") or url_for("staff.home")
        auth.complete_login(user, method=method)
        return redirect(auth.safe_next(next_url))
    return render_template("staff/verify.html", form=form, error=None), _status(form)


def _check_second_factor(user: User, code: str) -> str | None:
    """'totp' or 'recovery' when the code is accepted (and consumed), else None."""
    counter = totp.accepted_counter(user.totp_secret or "", code, user.totp_last_counter)
    if counter is not None:
        user.totp_last_counter = counter
        return "totp"
    remaining = totp.use_recovery_code(list(user.recovery_codes or []), code)
    if remaining is not None:
        user.recovery_codes = remaining
        return "recovery"
    return None


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def enrol_at_login() -> Page:
    """First login of an account that must use 2FA: enrol before entering."""
    user = auth.pending_user()
    if user is None:
        return redirect(url_for("staff.login"))
    if user.has_totp:
        return redirect(url_for("staff.verify"))
    return _enrol(user, at_login=True)


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def totp_setup() -> Page:
    return _enrol(current_user, at_login=False)


def _enrol(user: User, *, at_login: bool) -> Page:
    secret = session.get("enrol_secret")
    if not secret:
        secret = session["enrol_secret"] = totp.new_secret()
    form = EnrolForm()
    error = None
    if form.validate_on_submit():
        counter = totp.accepted_counter(secret, form.code.data or "", None)
        if counter is not None:
            codes = enrol_totp(user, secret, counter)
            session.pop("enrol_secret", None)
            if at_login:
                next_url = session.get("next") or url_for("staff.home")
                auth.complete_login(user, method="totp-enrol")
            else:
                db.session.commit()
                next_url = url_for("staff.account")
            return render_template("staff/recovery_codes.html", codes=codes, next_url=next_url)
        error = _("验证码不正确，请核对手机上的时间后重试。")
    uri = totp.provisioning_uri(secret, user.email)
    return render_template(
        "staff/enrol.html",
        form=form,
        error=error,
        secret=secret,
        qr=totp.qr_data_uri(uri),
        at_login=at_login,
    ), (400 if error else 200)


@bp.post("/logout")
def logout() -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        auth.logout(current_user)
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("staff.login"))


@bp.get("/account")
@login_required
def account() -> Page:
    return render_template(
        "staff/account.html", password_form=PasswordChangeForm(), confirm_form=ConfirmForm()
    )


@bp.post("/account/password")
@login_required
def change_password() -> Page:
    form = PasswordChangeForm()
    user: User = current_user
    if form.validate_on_submit():
        if service.change_password(
            user, form.current_password.data or "", form.new_password.data or ""
        ):
            db.session.commit()
            flash(_("密码已修改，请用新密码重新登录。"), "info")
            return redirect(url_for("staff.login"))
        form.current_password.errors.append(_("当前密码不正确。"))
    return render_template(
        "staff/account.html", password_form=form, confirm_form=ConfirmForm()
    ), 400


@bp.post("/account/recovery-codes")
@login_required
def new_recovery_codes() -> Page:
    user: User = current_user
    if not ConfirmForm().validate_on_submit() or not user.has_totp:
        abort(400)
    codes = renew_recovery_codes(user)
    db.session.commit()
    return render_template(
        "staff/recovery_codes.html", codes=codes, next_url=url_for("staff.account")
    )


# label, endpoint, roles that see it (admin sees every entry). Entries whose endpoint is not
# registered are left out: other features add those pages.
NAV: tuple[tuple[LazyString, str, tuple[str, ...]], ...] = (
    (_l("督查总览"), "oversight.overview", ("supervisor",)),
    (_l("待分派"), "triage.routing_desk", ("supervisor",)),
    (_l("队列"), "triage.queue", ("triager", "viewer", "supervisor")),
    (_l("登记来信来电"), "intake_staff.new", ("triager", "supervisor")),
    (_l("邮件隔离区"), "mail_quarantine.quarantine_list", ("triager", "supervisor")),
    (_l("统计"), "ledger.dashboard", ("triager", "viewer", "editor", "supervisor")),
    (_l("公示管理"), "notice_admin.index", ("editor",)),
    (_l("待审答复"), "replies.pending", ("editor",)),
    (_l("单位管理"), "staff.offices", ()),
    (_l("巡察轮次"), "staff.rounds", ()),
    (_l("审计日志"), "audit.events", ()),
    (_l("账户"), "staff.account", ("editor", "triager", "viewer", "supervisor")),
)


def nav_entries(user: User) -> list[tuple[LazyString, str]]:
    """(label, endpoint) of the registered pages ``user`` may open, in NAV order."""
    return [
        (label, endpoint)
        for label, endpoint, roles in NAV
        if endpoint in current_app.view_functions and user.has_role(*roles)
    ]


def staff_nav() -> list[tuple[str, str]]:
    """The nav entries the current user may use, for templates/staff/base.html."""
    if not current_user.is_authenticated:
        return []
    return [(str(label), url_for(endpoint)) for label, endpoint in nav_entries(current_user)]


def nav_context() -> dict[str, Any]:
    return {"staff_nav": staff_nav}
