"""Staff dashboard (/staff/dashboard), the ledger download (POST /staff/ledger.xlsx: a form
with CSRF, so no other site can make a staff browser export it), the office report
(/staff/report.docx, refused when another site starts it) and the public statistics block of
the notice page (a template global used by templates/ledger/_public_stats.html).

Every staff page here covers the reader's offices only, or the one picked with ``?office=<id>``
(portal.ledger.office_scope); a notice of an office the reader may not read is a 404.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from flask import Blueprint, abort, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import audit
from portal.extensions import db
from portal.intake.models import CHANNEL_LABELS
from portal.ledger import charts, docx_report, export, report, stats
from portal.ledger.office_scope import OfficeScope, office_scope, report_office
from portal.notices.models import Notice
from portal.site import content_disposition, download, same_origin_only
from portal.staff.auth import roles_required
from portal.staff.recent_auth import recent_auth_required
from portal.staff.scope import require_office
from portal.triage import workflow
from portal.triage.replies import published_replies
from portal.workdays import to_local

bp = Blueprint("ledger", __name__, url_prefix="/staff")

STAFF_ROLES = ("triager", "editor", "viewer")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, f"{name}: 日期格式应为 YYYY-MM-DD")


def _notice(scope: OfficeScope) -> Notice | None:
    slug = request.args.get("notice", "").strip()
    if not slug:
        return None
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    if notice is None:
        abort(404)
    require_office(notice.office_id)
    if scope.office is not None and notice.office_id != scope.office.id:
        abort(404)
    return notice


def _ledger_filter() -> tuple[stats.LedgerFilter, Notice | None, OfficeScope]:
    """The reader's offices (or the one picked), a notice and received dates, from the query."""
    scope = office_scope()
    notice = _notice(scope)
    ledger = stats.LedgerFilter(
        notice.id if notice else None, _day("from"), _day("to"), scope.office_ids
    )
    return ledger, notice, scope


def _notices(scope: OfficeScope) -> list[Notice]:
    query = select(Notice).order_by(Notice.created_at.desc())
    if scope.office_ids is not None:
        query = query.where(Notice.office_id.in_(scope.office_ids))
    return list(db.session.scalars(query))


def _queue_link(ledger: stats.LedgerFilter, scope: OfficeScope, **narrowed: Any) -> str:
    """The staff queue filtered to what a bar counts, within the dashboard's own filters."""
    args: dict[str, Any] = {
        "office": scope.office.id if scope.office else None,
        "notice": ledger.notice_id,
        "from": ledger.date_from.isoformat() if ledger.date_from else None,
        "to": ledger.date_to.isoformat() if ledger.date_to else None,
    }
    args.update(narrowed)
    return url_for("triage.queue", **{k: v for k, v in args.items() if v is not None})


def _week_link(ledger: stats.LedgerFilter, scope: OfficeScope, monday: date) -> str:
    start = max(monday, ledger.date_from) if ledger.date_from else monday
    end = monday + timedelta(days=6)
    end = min(end, ledger.date_to) if ledger.date_to else end
    return _queue_link(ledger, scope, **{"from": start.isoformat(), "to": end.isoformat()})


def _charts(
    ledger: stats.LedgerFilter,
    scope: OfficeScope,
    findings: list[stats.FindingStats],
    channels: list[tuple[str, int]],
    statuses: list[tuple[str, int]],
    weeks: list[tuple[date, int]],
) -> dict[str, str]:
    """Each chart twice: wide for a desktop, narrow for a phone (the page shows one)."""
    link = partial(_queue_link, ledger, scope)
    finding_items: list[charts.Item] = [
        (
            f"{f.number}. {f.title}" if f.number is not None else f.title,
            f.received,
            link(finding=f.finding_id) if f.finding_id != stats.NO_FINDING else None,
        )
        for f in findings
    ]
    channel_items: list[charts.Item] = [
        (str(CHANNEL_LABELS.get(k, k)), v, link(channel=k)) for k, v in channels
    ]
    status_items: list[charts.Item] = [(workflow.label(k), v, link(status=k)) for k, v in statuses]
    week_items: list[charts.Item] = [
        (f"{d.month}/{d.day}", v, _week_link(ledger, scope, d)) for d, v in weeks
    ]
    bars = (
        ("findings", finding_items, _("各问题收到意见数")),
        ("channels", channel_items, _("各渠道意见数")),
        ("statuses", status_items, _("各状态意见数")),
    )
    out: dict[str, str] = {}
    for name, items, title in bars:
        out[name] = charts.horizontal_bars(items, title=title)
        out[f"{name}_narrow"] = charts.horizontal_bars(
            items, title=title, width=charts.NARROW, narrow=True
        )
    out["weeks"] = charts.vertical_bars(week_items, title=_("每周收到意见数"))
    out["weeks_narrow"] = charts.vertical_bars(
        week_items, title=_("每周收到意见数"), width=charts.NARROW
    )
    return out


@bp.get("/dashboard")
@roles_required(*STAFF_ROLES)
def dashboard() -> str:
    ledger, notice, scope = _ledger_filter()
    findings = stats.finding_stats(ledger)
    channels = stats.channel_counts(ledger)
    statuses = stats.status_counts(ledger)
    weeks = stats.weekly_counts(ledger)
    svgs = _charts(ledger, scope, findings, channels, statuses, weeks)
    report_for = scope.office or (scope.choices[0] if len(scope.choices) == 1 else None)
    return render_template(
        "ledger/dashboard.html",
        findings=findings,
        charts={k: Markup(v) for k, v in svgs.items()},  # noqa: S704 - built and escaped by charts
        notices=_notices(scope),
        notice=notice,
        scope=scope,
        report_for=report_for,
        date_from=ledger.date_from,
        date_to=ledger.date_to,
        total=sum(count for _status, count in statuses),
    )


def _filter_details(
    ledger: stats.LedgerFilter, notice: Notice | None, scope: OfficeScope
) -> dict[str, Any]:
    return {
        "office": scope.office.slug if scope.office else None,
        "notice": notice.slug if notice else None,
        "from": ledger.date_from.isoformat() if ledger.date_from else None,
        "to": ledger.date_to.isoformat() if ledger.date_to else None,
    }


@bp.post("/ledger.xlsx")
@roles_required(*STAFF_ROLES)
@recent_auth_required
def ledger_xlsx() -> Response:
    """The workbook streams out as it is made (rows straight into the zip): the first bytes
    leave at once, so nginx (X-Accel-Buffering: no, see deploy/nginx) and the browser see a
    download in progress however large the office, and memory stays flat."""
    ledger, notice, scope = _ledger_filter()
    count, chunks = export.xlsx_stream(ledger)
    audit.record(
        "ledger.export",
        object_type="notice" if notice else None,
        object_id=notice.id if notice else None,
        details={"format": "xlsx", **_filter_details(ledger, notice, scope), "rows": count},
    )
    db.session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    label = notice.slug if notice else (scope.office.slug if scope.office else "全部")
    response = Response(stream_with_context(chunks), mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(f"台账-{label}-{stamp}.xlsx")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx passes each chunk on as it comes
    return response


@bp.get("/report.docx")
@roles_required(*STAFF_ROLES)
@same_origin_only
def office_report() -> Response:
    """The office report (.docx) of one office the reader may read: the picked one, else the
    reader's only office."""
    ledger, notice, scope = _ledger_filter()
    office = report_office(scope)
    ledger = replace(ledger, office_ids=(office.id,))
    sections = report.office_sections([office], ledger)
    start, end = report.period(sections, ledger)
    title = (
        _(
            "%(office)s关于“%(notice)s”群众意见办理情况的报告",
            office=office.name,
            notice=notice.title,
        )
        if notice
        else _("%(office)s群众意见办理情况报告", office=office.name)
    )
    now = datetime.now(UTC)
    data = docx_report.office_report_docx(report.Report(title, start, end, sections), now)
    audit.record(
        "report.download",
        object_type="office",
        object_id=office.id,
        details={"kind": "office", **_filter_details(ledger, notice, scope), "office": office.slug},
    )
    db.session.commit()
    response = download(
        data, docx_report.DOCX_MIMETYPE, f"意见办理情况报告-{office.slug}-{now:%Y%m%d}.docx"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def notice_public_stats(notice: Notice) -> dict[str, Any]:
    """For the notice page: per finding counts, share replied, median days, and the replies
    editors approved for publication. One grouped query plus one for the replies."""
    return {
        "findings": [s for s in stats.public_notice_stats(notice.id)],
        "published": published_replies(notice.id),
        "as_of": to_local(datetime.now(UTC)),
    }
