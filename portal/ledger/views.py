"""Staff dashboard (/staff/dashboard), the ledger download (/staff/ledger.xlsx) and the public
statistics block of the notice page (a template global used by templates/ledger/_public_stats.html).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, render_template, request, send_file
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import audit
from portal.extensions import db
from portal.intake.models import CHANNEL_LABELS
from portal.ledger import charts, export, stats
from portal.notices.models import Notice
from portal.staff.auth import roles_required
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


def _notice() -> Notice | None:
    slug = request.args.get("notice", "").strip()
    if not slug:
        return None
    notice = db.session.scalar(select(Notice).where(Notice.slug == slug))
    if notice is None:
        abort(404)
    return notice


def _ledger_filter() -> tuple[stats.LedgerFilter, Notice | None]:
    notice = _notice()
    ledger = stats.LedgerFilter(notice.id if notice else None, _day("from"), _day("to"))
    return ledger, notice


@bp.get("/dashboard")
@roles_required(*STAFF_ROLES)
def dashboard() -> str:
    ledger, notice = _ledger_filter()
    findings = stats.finding_stats(ledger)
    channels = stats.channel_counts(ledger)
    statuses = stats.status_counts(ledger)
    weeks = stats.weekly_counts(ledger)
    finding_items = [
        (f"{f.number}. {f.title}" if f.number is not None else f.title, f.received)
        for f in findings
    ]
    svgs = {
        "findings": charts.horizontal_bars(finding_items, title="各问题收到意见数"),
        "channels": charts.horizontal_bars(
            [(str(CHANNEL_LABELS.get(k, k)), v) for k, v in channels], title="各渠道意见数"
        ),
        "statuses": charts.horizontal_bars(
            [(workflow.label(k), v) for k, v in statuses], title="各状态意见数"
        ),
        "weeks": charts.vertical_bars(
            [(f"{d.month}/{d.day}", v) for d, v in weeks], title="每周收到意见数"
        ),
    }
    return render_template(
        "ledger/dashboard.html",
        findings=findings,
        charts={k: Markup(v) for k, v in svgs.items()},  # noqa: S704 - built and escaped by charts
        notices=db.session.scalars(select(Notice).order_by(Notice.created_at.desc())).all(),
        notice=notice,
        date_from=ledger.date_from,
        date_to=ledger.date_to,
        total=sum(v for _, v in statuses),
    )


@bp.get("/ledger.xlsx")
@roles_required(*STAFF_ROLES)
def ledger_xlsx() -> Response:
    ledger, notice = _ledger_filter()
    # A temporary file, not memory: the workbook of a million rows is tens of megabytes.
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - send_file closes it after streaming
    count = export.export_submissions(
        "xlsx",
        spool,
        notice_slug=notice.slug if notice else None,
        date_from=ledger.date_from,
        date_to=ledger.date_to,
    )
    audit.record(
        "ledger.export",
        object_type="notice" if notice else None,
        object_id=notice.id if notice else None,
        details={
            "format": "xlsx",
            "notice": notice.slug if notice else None,
            "from": ledger.date_from.isoformat() if ledger.date_from else None,
            "to": ledger.date_to.isoformat() if ledger.date_to else None,
            "rows": count,
        },
    )
    db.session.commit()
    spool.seek(0)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"台账-{notice.slug if notice else '全部'}-{stamp}.xlsx"
    response = send_file(spool, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=name)
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
