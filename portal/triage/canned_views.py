"""Canned replies (常用答复) in the browser: editors and triagers of an office list, write,
edit, retire and restore its texts, per finding of its notices or general. The reply panel
offers the current ones (replies.canned_texts). Every change is audited (triage/canned.py).

/staff/canned-replies                GET: one office's texts (?office=ID), the new-text form
                                     POST: a new text
/staff/canned-replies/<id>           GET: the edit form; POST: save it
/staff/canned-replies/<id>/retire    POST: retire (retire=y) or restore
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.offices.models import Office
from portal.offices.service import all_offices, default_office
from portal.staff.auth import roles_required
from portal.staff.scope import require_office, visible_office_ids
from portal.triage import canned
from portal.triage.forms import CannedReplyForm, RetireForm
from portal.triage.models import CannedReply
from portal.triage.views import bp, no_store

ROLES = ("editor", "triager")  # admin passes every check
Page = Response | tuple[str, int]


def _offices() -> list[Office]:
    """Offices whose canned replies the user manages."""
    default_office()  # made by the migration; a fresh test database makes it here
    db.session.commit()
    ids = visible_office_ids(current_user, *ROLES)
    return [o for o in all_offices(active_only=True) if ids is None or o.id in ids]


def _chosen_office(raw: str | None) -> Office:
    offices = _offices()
    if not offices:
        abort(403)
    wanted = next((o for o in offices if str(o.id) == (raw or "")), None)
    if raw and wanted is None:
        abort(404)  # not an office of this user's: do not confirm it exists
    return wanted or offices[0]


def _list_page(office: Office, form: CannedReplyForm, status: int = 200) -> Page:
    html = render_template(
        "triage/canned.html",
        office=office,
        offices=_offices(),
        texts=canned.office_texts(office.id),
        groups=canned.office_findings(office.id),
        form=form,
        retire_form=RetireForm(),
    )
    return no_store(Response(html, status=status, mimetype="text/html"))


@bp.get("/canned-replies", endpoint="canned_replies")
@roles_required(*ROLES)
def canned_replies() -> Page:
    office = _chosen_office(request.args.get("office"))
    form = CannedReplyForm(formdata=None, office=office.id)
    if request.args.get("finding", "").isdigit():
        form.finding.data = int(request.args["finding"])
    return _list_page(office, form)


@bp.post("/canned-replies", endpoint="canned_create")
@roles_required(*ROLES)
def canned_create() -> Page:
    form = CannedReplyForm()
    office = _chosen_office(request.form.get("office"))
    if not form.validate():
        abort(400)  # a value no page of ours posts
    try:
        row = canned.create(
            office.id,
            form.finding.data,
            form.title.data or "",
            form.body.data or "",
            actor=current_user.actor,
        )
    except canned.CannedError as exc:
        db.session.rollback()
        form.title.errors = [*form.title.errors, str(exc)]
        return _list_page(office, form, 422)
    db.session.commit()
    flash(_("已保存常用答复“%(title)s”。", title=row.title), "info")
    return redirect(url_for("triage.canned_replies", office=office.id, _anchor=_anchor(row)))


def _anchor(row: CannedReply) -> str:
    return f"canned-{row.id}"


def _load(canned_id: int) -> CannedReply:
    row = db.session.get(CannedReply, canned_id)
    if row is None:
        abort(404)
    require_office(row.office_id, *ROLES)
    return row


def _edit_page(row: CannedReply, form: CannedReplyForm, status: int = 200) -> Page:
    assert row.office_id is not None
    html = render_template(
        "triage/canned_edit.html",
        row=row,
        form=form,
        groups=canned.office_findings(row.office_id),
    )
    return no_store(Response(html, status=status, mimetype="text/html"))


@bp.get("/canned-replies/<int:canned_id>", endpoint="canned_edit")
@roles_required(*ROLES)
def canned_edit(canned_id: int) -> Page:
    row = _load(canned_id)
    form = CannedReplyForm(
        formdata=None, office=row.office_id, finding=row.finding_id, title=row.title, body=row.body
    )
    return _edit_page(row, form)


@bp.post("/canned-replies/<int:canned_id>", endpoint="canned_save")
@roles_required(*ROLES)
def canned_save(canned_id: int) -> Page:
    row = _load(canned_id)
    form = CannedReplyForm()
    if not form.validate():
        abort(400)
    try:
        canned.edit(
            row, form.finding.data, form.title.data or "", form.body.data or "",
            actor=current_user.actor,
        )  # fmt: skip
    except canned.CannedError as exc:
        db.session.rollback()
        form.title.errors = [*form.title.errors, str(exc)]
        return _edit_page(row, form, 422)
    db.session.commit()
    flash(_("已保存常用答复“%(title)s”。", title=row.title), "info")
    return redirect(url_for("triage.canned_replies", office=row.office_id, _anchor=_anchor(row)))


@bp.post("/canned-replies/<int:canned_id>/retire", endpoint="canned_retire")
@roles_required(*ROLES)
def canned_retire(canned_id: int) -> Response:
    row = _load(canned_id)
    form = RetireForm()
    if not form.validate():
        abort(400)
    canned.set_retired(row, bool(form.retire.data), actor=current_user.actor)
    db.session.commit()
    if form.retire.data:
        flash(_("已停用“%(title)s”：答复时不再提供。", title=row.title), "info")
    else:
        flash(_("已恢复“%(title)s”。", title=row.title), "info")
    return redirect(url_for("triage.canned_replies", office=row.office_id, _anchor=_anchor(row)))
