"""Editors' notice pages: paste/upload -> preview -> draft -> publish; revise, withdraw,
per-finding status, feedback window and a printable poster. Views stay thin; the notice
service does the storing and the audit events.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from portal import audit, workdays
from portal.extensions import db
from portal.notices.models import FINDING_STATUSES, Finding, FindingStatusChange, Notice
from portal.notices.parse import NoticeParseError, ParsedNotice, parse_notice
from portal.notices.service import get_by_slug, import_notice, publish_notice, withdraw_notice
from portal.printing import pdf_available, render_pdf
from portal.staff.auth import roles_required
from portal.workdays import local_to_utc

bp = Blueprint("notice_admin", __name__, url_prefix="/staff/notices")

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,99}$"
Page = str | Response | tuple[str, int]


# ------------------------------------------------------------------------------------ forms


class SourceForm(FlaskForm):
    """Step 1 (and 2): the notice's text, pasted or uploaded; `step` is preview or save."""

    text = TextAreaField(_l("公示全文"), validators=[Optional(), Length(max=500_000)])
    file = FileField(_l("或上传文本文件（UTF-8 或 GBK/GB18030 编码的 .txt）"))
    slug = StringField(
        _l("网址名称（slug）"),
        validators=[Optional(), Regexp(SLUG_RE, message=_l("只能使用小写字母、数字和连字符。"))],
    )
    step = HiddenField(default="preview")


class PublishForm(FlaskForm):
    warnings_checked = BooleanField(_l("我已逐条核对上述解析警告"))


class WithdrawForm(FlaskForm):
    note = TextAreaField(
        _l("撤回说明（公开显示）"),
        validators=[DataRequired(_l("请填写撤回说明。")), Length(max=500)],
    )


class StatusForm(FlaskForm):
    status = SelectField(_l("整改状态"), choices=[SelectChoice(s, s) for s in FINDING_STATUSES])
    effective_on = DateField(_l("日期"), validators=[DataRequired(_l("请填写日期。"))])
    note = TextAreaField(
        _l("公开说明"), validators=[DataRequired(_l("请填写说明。")), Length(max=1000)]
    )


class WindowForm(FlaskForm):
    opens = DateTimeLocalField(_l("开始时间（北京时间）"), validators=[Optional()])
    closes = DateTimeLocalField(_l("截止时间（北京时间）"), validators=[Optional()])

    def validate_closes(self, field: DateTimeLocalField) -> None:
        if field.data and self.opens.data and field.data <= self.opens.data:
            raise ValidationError(_l("截止时间须晚于开始时间。"))


# ---------------------------------------------------------------------------------- helpers


def _notice_or_404(slug: str) -> Notice:
    notice = get_by_slug(slug)
    if notice is None:
        abort(404)
    return notice


def decode_upload(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def _source_text(form: SourceForm) -> str | None:
    upload = form.file.data
    if upload and getattr(upload, "filename", ""):
        raw = upload.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            form.file.errors = [_l("文件过大（不超过2MB）。")]
            return None
        return decode_upload(raw)
    if form.text.data and form.text.data.strip():
        return form.text.data
    form.text.errors = [_l("请粘贴公示全文或上传文件。")]
    return None


@dataclass
class DiffLine:
    kind: str  # add, del, ctx, hunk
    text: str


def text_diff(old: str, new: str, *, context: int = 2) -> list[DiffLine]:
    """A unified line diff for people: rendered with Jinja, so every line is escaped."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context)
    out = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append(DiffLine(kind, line if kind == "hunk" else line[1:]))
    return out


# The window is typed and shown in Asia/Shanghai, the zone intake enforces it in.
def to_utc(local: datetime | None) -> datetime | None:
    return None if local is None else local_to_utc(local)


def to_local(moment: datetime | None) -> datetime | None:
    return None if moment is None else workdays.to_local(moment)


def feedback_form_url(notice: Notice) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/notices/{notice.slug}/feedback"


def _preview(form: SourceForm, text: str, notice: Notice | None) -> Page:
    try:
        parsed: ParsedNotice | None = parse_notice(text)
        error = None
    except NoticeParseError as exc:
        parsed, error = None, exc
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
    ), (422 if error else 200)


# ------------------------------------------------------------------------------------ views


@bp.get("/")
@roles_required("editor")
def index() -> Page:
    notices = db.session.scalars(select(Notice).order_by(Notice.created_at.desc()))
    return render_template("notices/admin_index.html", notices=list(notices))


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
    if notice is not None:
        form.slug.data = notice.slug
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        if notice is not None and not form.is_submitted() and notice.revisions:
            form.text.data = notice.revisions[-1].source_text
        return render_template(
            "notices/admin_edit.html", form=form, notice=notice, parsed=None, diff=[]
        ), status
    text = _source_text(form)
    if text is None:
        return render_template(
            "notices/admin_edit.html", form=form, notice=notice, parsed=None, diff=[]
        ), 400
    if form.step.data != "save":
        return _preview(form, text, notice)
    slug = form.slug.data or None
    if notice is None and slug and get_by_slug(slug) is not None:
        form.slug.errors = [_("该网址名称已被使用；要修订已有公示，请在其页面上点“修订”。")]
        return _preview(form, text, None)
    try:
        result = import_notice(text, slug=slug, actor=current_user.actor)
    except NoticeParseError:
        db.session.rollback()
        return _preview(form, text, notice)
    db.session.commit()
    saved = result.notice
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
    opens, closes = to_local(notice.feedback_opens_at), to_local(notice.feedback_closes_at)
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
        effective_on=form.effective_on.data or date.today(),
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


def set_finding_status(
    finding: Finding, *, status: str, effective_on: date, note: str, actor: str
) -> FindingStatusChange:
    """Append a dated public status step and make it the finding's status (caller commits)."""
    if status not in FINDING_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    change = FindingStatusChange(
        finding=finding, status=status, effective_on=effective_on, note=note, created_by=actor
    )
    db.session.add(change)
    previous = finding.status
    finding.status = status
    finding.notice.version += 1  # the public page changes
    db.session.flush()
    audit.record(
        "finding.status",
        object_type="finding",
        object_id=finding.id,
        actor=actor,
        details={
            "notice": finding.notice.slug,
            "number": finding.number,
            "from": previous,
            "to": status,
            "effective_on": effective_on.isoformat(),
            "note": note,
        },
    )
    return change


@bp.post("/<slug>/window")
@roles_required("editor")
def feedback_window(slug: str) -> Page:
    notice = _notice_or_404(slug)
    form = WindowForm()
    if not form.validate_on_submit():
        return _show(notice, 400, window_form=form)
    notice.feedback_opens_at = to_utc(form.opens.data)
    notice.feedback_closes_at = to_utc(form.closes.data)
    notice.version += 1
    audit.record(
        "notice.feedback_window",
        object_type="notice",
        object_id=notice.id,
        actor=current_user.actor,
        details={
            "slug": notice.slug,
            "opens": form.opens.data.isoformat() if form.opens.data else None,
            "closes": form.closes.data.isoformat() if form.closes.data else None,
            "timezone": str(workdays.SHANGHAI),
        },
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
def poster_pdf(slug: str) -> Response:
    if not pdf_available():
        abort(501)
    context = _poster_context(slug)
    html = render_template("notices/admin_poster.html", **context)
    css = Path(current_app.static_folder or "") / "css" / "poster.css"
    response = Response(render_pdf(html, [css]), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="poster-{slug}.pdf"'
    return response


def _poster_context(slug: str) -> dict[str, Any]:
    notice = _notice_or_404(slug)
    target = feedback_form_url(notice)
    qr = segno.make(target, error="q")
    return {
        "notice": notice,
        "target": target,
        "qr": qr.svg_data_uri(scale=10, border=2, dark="#000", light="#fff"),
        "office": current_app.config.get("OFFICE_NAME", ""),
        "opens": to_local(notice.feedback_opens_at),
        "closes": to_local(notice.feedback_closes_at),
    }
