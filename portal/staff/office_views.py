"""Admin pages for the units a deployment serves (offices) and the inspection rounds.

Only the admin manages them (the supervisor reads progress on the oversight pages). Creating
goes through the offices service, as `flask offices create` and `flask rounds create` do.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.offices.models import Office
from portal.offices.service import (
    OfficeError,
    all_offices,
    all_rounds,
    create_office,
    create_round,
    default_office,
    office_by_slug,
)
from portal.staff.auth import roles_required
from portal.staff.office_admin import update_office
from portal.staff.office_forms import (
    TEXT_FIELDS,
    VALUE_FIELDS,
    OfficeCreateForm,
    OfficeEditForm,
    RoundForm,
)
from portal.staff.views import bp

Page = str | Response | tuple[str, int]


def _all_offices() -> list[Office]:
    default_office()  # made by the migration; a fresh test database makes it here
    db.session.commit()
    return all_offices()


def _offices_page(form: OfficeCreateForm, status: int = 200) -> tuple[str, int]:
    return render_template("staff/offices.html", offices=_all_offices(), form=form), status


@bp.route("/offices", methods=["GET", "POST"])
@roles_required("admin")
def offices() -> Page:
    form = OfficeCreateForm()
    if not form.validate_on_submit():
        return _offices_page(form, 400 if form.is_submitted() else 200)
    try:
        office = create_office(
            form.slug.data or "",
            name=form.name.data or "",
            short_name=form.short_name.data or "",
            actor=current_user.actor,
        )
    except OfficeError as exc:  # taken slug: the rest the form checked already
        db.session.rollback()
        form.slug.errors = [str(exc)]
        return _offices_page(form, 400)
    db.session.commit()
    flash(_("已创建单位“%(name)s”，请补充联系方式、信函和邮箱设置。", name=office.name), "info")
    return redirect(url_for("staff.office_edit", slug=office.slug))


def _office_or_404(slug: str) -> Office:
    default_office()
    db.session.commit()
    office = office_by_slug(slug)
    if office is None:
        abort(404)
    return office


@bp.route("/offices/<slug>", methods=["GET", "POST"])
@roles_required("admin")
def office_edit(slug: str) -> Page:
    office = _office_or_404(slug)
    form = OfficeEditForm(obj=office)
    # Write-only: the stored password never reaches the page, and an absent field keeps it.
    form.imap_password.data = request.form.get("imap_password", "")
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in (*TEXT_FIELDS, *VALUE_FIELDS)}
        try:
            changed = update_office(
                office,
                values,
                password=form.imap_password.data or None,
                actor=current_user.actor,
            )
        except OfficeError as exc:
            db.session.rollback()
            form.active.errors = [str(exc)]
        else:
            db.session.commit()
            if changed:
                flash(_("已保存“%(name)s”的设置。", name=office.name), "info")
            else:
                flash(_("没有改动。"), "info")
            return redirect(url_for("staff.office_edit", slug=office.slug))
    return render_template("staff/office_edit.html", office=office, form=form), (
        400 if form.is_submitted() else 200
    )


@bp.route("/rounds", methods=["GET", "POST"])
@roles_required("admin")
def rounds() -> Page:
    form = RoundForm()
    if form.validate_on_submit():
        try:
            found = create_round(
                form.slug.data or "",
                name=form.name.data or "",
                inspection_group=form.inspection_group.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                actor=current_user.actor,
            )
        except OfficeError as exc:
            db.session.rollback()
            form.slug.errors = [str(exc)]
        else:
            db.session.commit()
            flash(_("已创建巡察轮次“%(name)s”。", name=found.name), "info")
            return redirect(url_for("staff.rounds"))
    return render_template("staff/rounds.html", rounds=all_rounds(), form=form), (
        400 if form.is_submitted() else 200
    )
