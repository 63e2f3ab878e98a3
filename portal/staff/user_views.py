"""Account administration (admin only): create accounts with their offices, give or take an
office role, disable, reset the second factor. Each change is an audit event (staff.service)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.offices.models import Office
from portal.offices.service import all_offices, default_office
from portal.staff import enrolment
from portal.staff.auth import roles_required
from portal.staff.forms import ConfirmForm, MembershipForm, RoleForm, UserCreateForm
from portal.staff.models import OFFICE_ROLES, STAFF, User
from portal.staff.service import (
    all_users,
    create_user,
    disable_user,
    reset_2fa,
    set_membership,
    set_role,
)
from portal.staff.views import bp

Page = str | Response | tuple[str, int]


def _office_choices() -> list[tuple[int, str]]:
    default_office()  # made by the migration; a fresh test database makes it here
    db.session.commit()
    return [(o.id, o.name) for o in all_offices(active_only=True)]


def _create_form() -> UserCreateForm:
    form = UserCreateForm()
    form.offices.choices = _office_choices()
    return form


def _membership_form() -> MembershipForm:
    form = MembershipForm()
    form.office.choices = [(o.id, o.name) for o in all_offices()]
    return form


def _role_form(user: User | None = None) -> RoleForm:
    """The role form; for the users page, preset to the account's present role."""
    form = RoleForm()
    form.office.choices = [(0, "—"), *((o.id, o.name) for o in all_offices(active_only=True))]
    if user is not None:
        first = user.memberships[0] if user.memberships else None
        form.role.data = first.role if user.role == STAFF and first else user.role
        form.office.data = first.office_id if first else 0
    return form


def _users_page(form: UserCreateForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "staff/users.html",
        users=all_users(),
        form=form,
        confirm_form=ConfirmForm(),
        membership_form=_membership_form,
        role_form=_role_form,
        staff_role=STAFF,
    ), status


@bp.get("/users")
@roles_required("admin")
def users() -> Page:
    return _users_page(_create_form())


@bp.post("/users")
@roles_required("admin")
def users_create() -> Page:
    form = _create_form()
    if form.validate_on_submit():
        role = form.role.data or "viewer"
        ids = list(form.offices.data or [])
        if role in OFFICE_ROLES and not ids:  # validate_offices allows it with one office only
            ids = [value for value, _label in form.offices.choices or []]
        offices = [o for o in (db.session.get(Office, i) for i in ids) if o is not None]
        try:
            user = create_user(
                form.email.data or "",
                role=role,
                password=form.password.data or "",
                display_name=form.display_name.data or "",
                actor=current_user.actor,
                offices=offices,
            )
        except ValueError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            flash(_("已创建账户 %(email)s。", email=user.email), "info")
            return redirect(url_for("staff.users"))
    return _users_page(form, 400)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/memberships")
@roles_required("admin")
def users_membership(user_id: int) -> Response:
    """Give the user a role in one office, change it, or (role "") take the office away."""
    user = _user_or_404(user_id)
    form = _membership_form()
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        flash(" ".join(str(e) for e in errors) or _("请重试。"), "error")
        return redirect(url_for("staff.users", _anchor=f"user-{user.id}"))
    office = db.session.get(Office, form.office.data)
    assert office is not None  # validate_office checked the id
    try:
        set_membership(user, office, form.role.data or None, actor=current_user.actor)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("已更新 %(email)s 的单位角色：%(roles)s", email=user.email, roles=user.role_label),
            "info",
        )
    return redirect(url_for("staff.users", _anchor=f"user-{user.id}"))


@bp.post("/users/<int:user_id>/role")
@roles_required("admin")
def users_role(user_id: int) -> Response:
    """Change the account's role; the account is logged out everywhere (audited)."""
    user = _user_or_404(user_id)
    form = _role_form()
    back = redirect(url_for("staff.users", _anchor=f"user-{user.id}"))
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        flash(" ".join(str(e) for e in errors) or _("请重试。"), "error")
        return back
    office = db.session.get(Office, form.office.data) if form.office.data else None
    try:
        set_role(user, form.role.data or "", office=office, actor=current_user.actor)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return back
    db.session.commit()
    flash(
        _(
            "已将 %(email)s 的角色改为：%(roles)s。该账户已退出登录，须重新登录。",
            email=user.email,
            roles=user.role_label,
        ),
        "info",
    )
    return back


@bp.post("/users/<int:user_id>/disable")
@roles_required("admin")
def users_disable(user_id: int) -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash(_("不能停用自己的账户。"), "error")
    else:
        disable_user(user)
        db.session.commit()
        flash(_("已停用 %(email)s。", email=user.email), "info")
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/reset-2fa")
@roles_required("admin")
def users_reset_2fa(user_id: int) -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    reset_2fa(user)
    db.session.commit()
    flash(
        _(
            "已重置 %(email)s 的两步验证。请为其生成一次性绑定链接，绑定后方可登录。",
            email=user.email,
        ),
        "info",
    )
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/enrol-link")
@roles_required("admin")
def users_enrol_link(user_id: int) -> Page:
    """A one-time link for the user to bind a second factor; shown once, on this page only
    (a flash message would travel in the cookie)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    token = enrolment.new_link(user, actor=current_user.actor)
    db.session.commit()
    return render_template(
        "staff/enrol_link.html",
        user=user,
        url=enrolment.link_url(token),
        hours=current_app.config["ENROLMENT_LINK_HOURS"],
    )
