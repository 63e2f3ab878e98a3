"""Staff pages: login (password, second factor), logout, own account, password change."""

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

from portal import labels
from portal.extensions import db, limiter
from portal.staff import auth, factors, security_keys, service, throttle
from portal.staff.forms import CodeForm, ConfirmForm, LoginForm, PasswordChangeForm
from portal.staff.models import ROLE_LABELS, User

bp = Blueprint("staff", __name__, url_prefix="/staff")

LOGIN_FAILED = _l("登录失败：邮箱、密码或验证码不正确，或账户已被暂时锁定。请稍后再试。")
NEEDS_ENROLMENT = _l(
    "您的账户尚未绑定两步验证。请联系管理员获取一次性绑定链接，通过该链接完成绑定后再登录。"
)
TOO_MANY = _l("尝试次数过多，请稍后再试。")
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


@bp.app_template_global("actor_name")
def actor_name(actor: str | None) -> str:
    """An audit actor as staff read it: a colleague's name, "系统" or "市民", never
    "user:<id>:<email>" (revision lists, histories)."""
    user_id = labels.actor_user_id(actor)
    user = db.session.get(User, user_id) if user_id is not None else None
    names = {user.id: user.display_name or user.email} if user else {}
    return labels.actor_label(actor, names)


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
        if user.has_second_factor:
            auth.start_second_step(user)
            session["next"] = next_url
            db.session.commit()
            return redirect(url_for("staff.verify"))
        if auth.second_factor_required(user):
            # The password alone never binds a second factor: that takes an admin's link.
            db.session.commit()
            return render_template("staff/login.html", form=form, error=NEEDS_ENROLMENT), 403
        auth.complete_login(user, method="password")
        return redirect(next_url)
    return render_template("staff/login.html", form=form, error=None), _status(form)


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def verify() -> Page:
    user = auth.pending_user()
    if user is None or not user.has_second_factor:
        flash(_("请重新登录。"), "error")
        return redirect(url_for("staff.login"))
    form = CodeForm()
    if form.validate_on_submit():
        method = check_second_factor(user, form)
        if method is None:
            auth.register_failure(user, user.email, "wrong second factor")
            if auth.pending_user() is None:  # this network now has to wait
                session.clear()
                flash(LOGIN_FAILED, "error")
                return redirect(url_for("staff.login"))
            return _verify_page(user, form, LOGIN_FAILED, 401)
        next_url = session.get("next") or url_for("staff.home")
        auth.complete_login(user, method=method)
        return redirect(auth.safe_next(next_url))
    return _verify_page(user, form, None, _status(form))


def _verify_page(user: User, form: CodeForm, error: Any, status: int) -> tuple[str, int]:
    options = security_keys.authentication_options(user) if user.webauthn_credentials else None
    return render_template(
        "staff/verify.html", form=form, error=error, webauthn_options=options
    ), status


def check_second_factor(user: User, form: CodeForm) -> str | None:
    """'webauthn', 'totp' or 'recovery' when the factor is accepted (and consumed), else None."""
    if form.webauthn.data:
        return "webauthn" if security_keys.authenticate(user, form.webauthn.data) else None
    return factors.check_code(user, form.code.data or "")


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


def _password_change_limit() -> str:
    return current_app.config["RATELIMIT_PASSWORD_CHANGE"]


def _user_key() -> str:
    """Rate-limit key: the account (its id), whatever network it comes from."""
    return f"user:{current_user.id}" if current_user.is_authenticated else ""


@bp.post("/account/password")
@login_required
@limiter.limit(_password_change_limit, key_func=_user_key)
def change_password() -> Page:
    form = PasswordChangeForm()
    user: User = current_user
    if form.validate_on_submit():
        network = throttle.request_network()
        if throttle.blocked(user, network):
            form.current_password.errors.append(str(TOO_MANY))
        elif service.change_password(
            user, form.current_password.data or "", form.new_password.data or "", network=network
        ):
            db.session.commit()
            flash(_("密码已修改，请用新密码重新登录。"), "info")
            return redirect(url_for("staff.login"))
        else:
            db.session.commit()  # the failure's event and count
            form.current_password.errors.append(_("当前密码不正确。"))
    return render_template(
        "staff/account.html", password_form=form, confirm_form=ConfirmForm()
    ), 400


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
    (_l("常用答复"), "triage.canned_replies", ("editor", "triager")),
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
