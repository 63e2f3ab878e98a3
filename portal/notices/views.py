"""Editors' notice pages: paste/upload -> preview -> draft -> publish; revise, withdraw,
per-finding status, feedback window and a printable poster. Views stay thin; the notice
service does the storing and the audit events.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from portal import site, workdays
from portal.extensions import db
from portal.notices.diff import text_diff
from portal.notices.forms import (
    ROLE_LABELS,
    PublishForm,
    SourceForm,
    StatusForm,
    WindowForm,
    WithdrawForm,
    encode_given,
)
from portal.notices.models import FINDING_STATUSES, Notice
from portal.notices.parse import NoticeParseError, ParsedNotice, parse_notice
from portal.notices.preview import build_preview, notice_counts, shown_roles
from portal.notices.service import (
    effective_roles,
    finding_status_counts,
    get_by_slug,
    import_notice,
    publish_notice,
    set_feedback_window,
    set_finding_status,
    set_notice_round,
    withdraw_notice,
)
from portal.offices.models import Office
from portal.offices.service import (
    OfficeError,
    all_offices,
    all_rounds,
    default_office,
    round_by_slug,
)
from portal.printing import (
    is_loopback_url,
    loopback_links_refused,
    pdf_available,
    render_pdf,
)
from portal.staff.auth import roles_required
from portal.staff.scope import office_clause, require_office, visible_office_ids

bp = Blueprint("notice_admin", __name__, url_prefix="/staff/notices")

Page = str | Response | tuple[str, int]


def _notice_or_404(slug: str) -> Notice:
    """The notice, when the user edits for its office: another office's notice is a 404 (its
    existence is not confirmed), an office the user only reads is a 403."""
    notice = get_by_slug(slug)
    if notice is None:
        abort(404)
    require_office(notice.office_id, "editor")
    return notice


def _editor_offices() -> list[Office]:
    """The active offices whose notices the user may edit (admin: all)."""
    default_office()  # made by the migration; a fresh test database makes it here
    db.session.commit()
    ids = visible_office_ids(current_user, "editor")
    return [o for o in all_offices(active_only=True) if ids is None or o.id in ids]


def _choose_office_and_round(form: SourceForm, notice: Notice | None) -> None:
    """Fill the office and round choices; preselect the only office, or the notice's round."""
    if notice is None:
        offices = _editor_offices()
        form.office.choices = [(o.id, o.name) for o in offices]
        if len(offices) == 1 and form.office.data is None:
            form.office.data = offices[0].id  # the only choice, asked or not
    else:
        del form.office  # a revision stays with its office
    form.round.choices = [("", _("（不属于某轮巡察）"))] + [(r.slug, r.name) for r in all_rounds()]
    if not form.is_submitted() and notice is not None and notice.round is not None:
        form.round.data = notice.round.slug


# The window is shown in Asia/Shanghai, the zone intake enforces it in.
def _to_local(moment: datetime | None) -> datetime | None:
    return None if moment is None else workdays.to_local(moment)


def _feedback_form_url(notice: Notice) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/notices/{notice.slug}/feedback"


@bp.get("/")
@roles_required("editor")
def index() -> Page:
    notices = db.session.scalars(
        select(Notice)
        .where(office_clause(Notice.office_id, "editor"))
        .options(
            selectinload(Notice.round),
            selectinload(Notice.findings),
            selectinload(Notice.revisions),
        )
        .order_by(Notice.created_at.desc(), Notice.id.desc())
    )
    return render_template(
        "notices/admin_index.html",
        notices=list(notices),
        status_counts=finding_status_counts,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required("editor")
def new() -> Page:
    return _edit(None)


@bp.route("/<slug>/revise", methods=["GET", "POST"])
@roles_required("editor")
def revise(slug: str) -> Page:
    return _edit(_notice_or_404(slug))


def _edit(notice: Notice | None) -> Page:
    form = SourceForm()
    _choose_office_and_round(form, notice)
    if notice is not None:
        form.slug.data = notice.slug
    if not form.validate_on_submit():
        if form.is_submitted() and form.from_preview():  # e.g. a change note too long
            text = form.text.data or ""
            given = form.given_for(text, effective_roles(notice, text, None))
            return _preview(form, text, notice, given, status=400)
        status = 400 if form.is_submitted() else 200
        if notice is not None and not form.is_submitted() and notice.revisions:
            form.text.data = notice.revisions[-1].source_text
        return _entry(form, notice, status)
    text = form.source
    # First preview: the roles given to the last revision, moved to this text's lines.
    given = form.given_for(text, effective_roles(notice, text, None))
    if form.step.data == "edit":  # back to the text, the role choices kept for it
        form.text.data = text
        return _entry(form, notice, 200, given=given)
    if form.step.data != "save":
        return _preview(form, text, notice, given)
    if _note_missing(form, notice):
        return _preview(form, text, notice, given, status=400)
    slug = form.slug.data or None
    if notice is None and slug and get_by_slug(slug) is not None:
        form.slug.errors = [_("该网址名称已被使用；要修订已有公示，请在其页面上点“修订”。")]
        return _preview(form, text, None, given)
    return _save(form, text, slug, notice, given)


def _entry(
    form: SourceForm, notice: Notice | None, status: int, given: dict[int, str] | None = None
) -> tuple[str, int]:
    """The text (and file) form; `given` roles travel along with the text they were given for."""
    return render_template(
        "notices/admin_edit.html",
        form=form,
        notice=notice,
        parsed=None,
        diff=[],
        given_roles=encode_given(given) if given else "",
        roles_text=form.text.data if given else "",
    ), status


def _note_missing(form: SourceForm, notice: Notice | None) -> bool:
    """A revision of a published notice says what changed (shown with "修订于" publicly)."""
    if notice is None or notice.state != "published" or (form.note.data or "").strip():
        return False
    form.note.errors = [_("请填写修订说明：公开页面会显示本次修订改了什么、为什么改。")]
    return True


def _preview(
    form: SourceForm,
    text: str,
    notice: Notice | None,
    given: dict[int, str],
    status: int | None = None,
) -> Page:
    try:
        parsed: ParsedNotice | None = parse_notice(text, roles=given)
        error = None
    except NoticeParseError as exc:
        parsed, error = None, exc
    rows = parsed.line_roles if parsed is not None else shown_roles(text, given)
    diff = text_diff(notice.revisions[-1].source_text, text) if notice and notice.revisions else []
    form.step.data = "save"
    form.text.data = text
    return render_template(
        "notices/admin_edit.html",
        form=form,
        notice=notice,
        parsed=parsed,
        parse_error=error,
        diff=diff,
        preview=build_preview(parsed, rows, given, error),
        role_labels=ROLE_LABELS,
        given_roles=encode_given(given),
        roles_text=text,
        note_required=notice is not None and notice.state == "published",
    ), (status or (422 if error else 200))


def _save(
    form: SourceForm, text: str, slug: str | None, notice: Notice | None, given: dict[int, str]
) -> Page:
    office = None if notice is not None else db.session.get(Office, form.office.data)
    round_ = round_by_slug(form.round.data) if form.round.data else None
    try:
        result = import_notice(
            text,
            roles=given,
            note=(form.note.data or "").strip() or None,
            slug=slug,
            actor=current_user.actor,
            office=office,
        )
    except (NoticeParseError, OfficeError) as exc:
        db.session.rollback()
        if isinstance(exc, OfficeError):
            form.slug.errors = [str(exc)]
        return _preview(form, text, notice, given)
    saved = result.notice
    set_notice_round(saved, round_, actor=current_user.actor)
    db.session.commit()
    if saved.state == "draft":
        message = _("已保存草稿（第%(n)s版）。", n=result.revision.number)
    else:
        message = _("已保存修订，公开页面已更新（第%(n)s版）。", n=result.revision.number)
    flash(message, "info")
    return redirect(url_for("notice_admin.show", slug=saved.slug))


@bp.get("/<slug>")
@roles_required("editor")
def show(slug: str) -> Page:
    notice = _notice_or_404(slug)
    return _show(notice)


def _show(notice: Notice, status: int = 200, **forms: Any) -> tuple[str, int]:
    opens, closes = _to_local(notice.feedback_opens_at), _to_local(notice.feedback_closes_at)
    window_form = forms.get("window_form") or WindowForm(
        opens=opens.replace(tzinfo=None) if opens else None,
        closes=closes.replace(tzinfo=None) if closes else None,
    )
    today = workdays.local_today()
    return render_template(
        "notices/admin_show.html",
        notice=notice,
        publish_form=forms.get("publish_form") or PublishForm(),
        withdraw_form=forms.get("withdraw_form") or WithdrawForm(),
        window_form=window_form,
        status_form_for=lambda f: (
            forms.get("status_form")
            if forms.get("status_finding") == f.number
            else StatusForm(
                status=f.status if f.status in FINDING_STATUSES else None, effective_on=today
            )
        ),
        opens=opens,
        closes=closes,
        findings=[f for f in notice.findings if f.active],
    ), status


@bp.post("/<slug>/publish")
@roles_required("editor")
def publish(slug: str) -> Page:
    notice = _notice_or_404(slug)
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    if notice.warnings and not form.warnings_checked.data:
        form.warnings_checked.errors = [_("有解析警告：请先核对并勾选确认。")]
        return _show(notice, 400, publish_form=form)
    if form.confirmed.data != "yes":  # first post: show what is about to go public
        findings = [f for f in notice.findings if f.active]
        return render_template(
            "notices/admin_publish.html",
            notice=notice,
            form=form,
            counts=notice_counts(notice.categories, findings),
        )
    publish_notice(notice, actor=current_user.actor)
    db.session.commit()
    flash(_("已发布。"), "info")
    return redirect(url_for("notice_admin.show", slug=slug))


@bp.post("/<slug>/withdraw")
@roles_required("editor")
def withdraw(slug: str) -> Page:
    notice = _notice_or_404(slug)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _show(notice, 400, withdraw_form=form)
    withdraw_notice(notice, actor=current_user.actor, note=(form.note.data or "").strip())
    db.session.commit()
    flash(_("已撤回：公开页面现显示撤回说明。"), "info")
    return redirect(url_for("notice_admin.show", slug=slug))


@bp.get("/<slug>/revisions/<int:number>")
@roles_required("editor")
def revision_diff(slug: str, number: int) -> Page:
    """What revision `number` changed compared with the one before it."""
    notice = _notice_or_404(slug)
    by_number = {r.number: r for r in notice.revisions}
    revision = by_number.get(number)
    if revision is None:
        abort(404)
    previous = by_number.get(number - 1)
    diff = text_diff(previous.source_text if previous else "", revision.source_text)
    return render_template(
        "notices/admin_diff.html",
        notice=notice,
        revision=revision,
        previous=previous,
        diff=diff,
        added=sum(line.kind == "add" for line in diff),
        removed=sum(line.kind == "del" for line in diff),
    )


@bp.post("/<slug>/findings/<int:number>/status")
@roles_required("editor")
def finding_status(slug: str, number: int) -> Page:
    notice = _notice_or_404(slug)
    finding = next((f for f in notice.findings if f.number == number and f.active), None)
    if finding is None:
        abort(404)
    form = StatusForm()
    if not form.validate_on_submit():
        return _show(notice, 400, status_form=form, status_finding=number)
    set_finding_status(
        finding,
        status=form.status.data or FINDING_STATUSES[0],
        effective_on=form.effective_on.data or workdays.local_today(),
        note=(form.note.data or "").strip(),
        actor=current_user.actor,
    )
    db.session.commit()
    flash(
        _(
            "第%(number)s项问题的整改状态已更新为“%(status)s”。",
            number=number,
            status=finding.status,
        ),
        "info",
    )
    return redirect(url_for("notice_admin.show", slug=slug, _anchor=f"finding-{number}"))


@bp.post("/<slug>/window")
@roles_required("editor")
def feedback_window(slug: str) -> Page:
    notice = _notice_or_404(slug)
    form = WindowForm()
    if not form.validate_on_submit():
        return _show(notice, 400, window_form=form)
    set_feedback_window(
        notice, opens=form.opens.data, closes=form.closes.data, actor=current_user.actor
    )
    db.session.commit()
    flash(_("意见征集时间已保存。"), "info")
    return redirect(url_for("notice_admin.show", slug=slug, _anchor="window"))


@bp.get("/<slug>/poster")
@roles_required("editor")
def poster(slug: str) -> Page:
    """An A4 poster in the style of 码上巡察: scan the code, give your opinion."""
    return render_template("notices/admin_poster.html", **_poster_context(slug))


@bp.get("/<slug>/poster.pdf")
@roles_required("editor")
@site.same_origin_only  # printing records an event: never started by another site
def poster_pdf(slug: str) -> Response | Page:
    if not pdf_available():
        abort(501)
    context = _poster_context(slug)
    if context["print_refused"]:  # a poster whose QR code leads nowhere must not be printed
        return render_template("notices/admin_poster.html", **context), 409
    html = render_template("notices/admin_poster.html", **context)
    css = Path(current_app.static_folder or "") / "css" / "poster.css"
    return site.download(render_pdf(html, [css]), "application/pdf", f"poster-{slug}.pdf")


def _poster_context(slug: str) -> dict[str, Any]:
    notice = _notice_or_404(slug)
    target = _feedback_form_url(notice)
    qr = segno.make(target, error="q")
    loopback = is_loopback_url(target)
    return {
        "notice": notice,
        "target": target,
        "loopback": loopback,
        "print_refused": loopback and loopback_links_refused(current_app.config),
        "qr": qr.svg_data_uri(scale=10, border=2, dark="#000", light="#fff"),
        "office": notice.office.name,
        "opens": _to_local(notice.feedback_opens_at),
        "closes": _to_local(notice.feedback_closes_at),
    }
