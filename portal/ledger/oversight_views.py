"""The supervisor's pages: every office's progress (/staff/oversight/) and the round report
(.docx). Supervisor and admin only; read-only: the drill-down links lead to each office's queue
and dashboard, where a supervisor can read but not act."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import audit
from portal.extensions import db
from portal.ledger import docx_report, oversight, report, stats
from portal.notices.models import Notice
from portal.offices.models import Office, Round
from portal.offices.service import all_rounds, round_by_slug
from portal.site import datetime_text, download
from portal.staff.auth import roles_required

bp = Blueprint("oversight", __name__, url_prefix="/staff/oversight")

SUPERVISOR = "supervisor"  # admin passes every role check too
DEFAULT_MAX_AGE = 300  # seconds; OVERSIGHT_MAX_AGE overrides
ROUTING_DESK = "triage.routing_desk"
_refresher: threading.Thread | None = None
TABLE_CACHE_SIZE = 64
_table_cache: dict[tuple[Any, ...], str] = {}
_refresher_guard = threading.Lock()


def _round() -> Round | None:
    slug = request.args.get("round", "").strip()
    if not slug:
        return None
    found = round_by_slug(slug)
    if found is None:
        abort(404)
    return found


def _optional_url(endpoint: str, **values: Any) -> str | None:
    """A link to another feature's page, or None while that page does not exist."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _refresh_in_background(app: Flask, max_age: float) -> None:
    with app.app_context():
        try:
            oversight.refresh_if_stale(max_age)
        except Exception:  # a failed refresh leaves the old snapshot; the next page retries
            app.logger.exception("oversight refresh failed")
        finally:
            db.session.remove()


def refresh_snapshot() -> threading.Thread | None:
    """An empty snapshot is computed now (there is nothing to show); a stale one in a thread
    while this page shows the snapshot as it is (a refresh at ten million submissions takes
    minutes). The lease keeps it to one worker across processes; one thread at a time keeps
    it to one in this process."""
    global _refresher
    max_age = float(current_app.config.get("OVERSIGHT_MAX_AGE", DEFAULT_MAX_AGE))
    at = oversight.computed_at()
    if at is None:
        oversight.refresh_if_stale(max_age)
        return None
    if (datetime.now(UTC) - at).total_seconds() < max_age:
        return None
    with _refresher_guard:
        if _refresher is None or not _refresher.is_alive():
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            _refresher = threading.Thread(
                target=_refresh_in_background, args=(app, max_age), daemon=True
            )
            _refresher.start()
        return _refresher


def pending_refresh() -> threading.Thread | None:
    """The background refresh this process started last (tests and benchmarks join it)."""
    return _refresher


def _offices_table(round_id: int | None, computed: datetime | None) -> Markup:
    """The offices table, rendered once per snapshot, round and language and then served from
    memory: 200 offices are most of the page's time, and nothing in the table depends on who
    reads it (scope is every office for every reader of this page)."""
    queue, dashboard = _optional_url("triage.queue"), url_for("ledger.dashboard")
    key = (round_id, computed, str(get_locale()), queue, dashboard)
    html = _table_cache.get(key)
    if html is None:
        rows = oversight.overview(round_id)
        # One url_for per page, not two per office.
        links = {
            row.office_id: {
                "queue": f"{queue}?office={row.office_id}" if queue else None,
                "dashboard": f"{dashboard}?office={row.office_id}",
            }
            for row in rows
        }
        html = render_template("ledger/_oversight_offices.html", rows=rows, links=links)
        if len(_table_cache) >= TABLE_CACHE_SIZE:
            _table_cache.clear()  # a new snapshot makes every entry stale anyway
        _table_cache[key] = html
    return Markup(html)  # noqa: S704 - rendered by Jinja with autoescape


@bp.get("/", endpoint="overview")
@roles_required(SUPERVISOR)
def overview_page() -> str:
    chosen = _round()
    refresh_snapshot()
    computed = oversight.computed_at()
    return render_template(
        "ledger/oversight.html",
        offices_table=_offices_table(chosen.id if chosen else None, computed),
        chosen=chosen,
        rounds=all_rounds(),
        totals=oversight.round_totals(),
        unrouted=oversight.unrouted_count(),
        routing_url=_optional_url(ROUTING_DESK),
        computed_text=datetime_text(computed) if computed else None,
    )


def _round_offices(round_: Round) -> list[Office]:
    """The offices with a notice in the round, by name."""
    in_round = select(Notice.office_id).where(Notice.round_id == round_.id)
    stmt = select(Office).where(Office.id.in_(in_round)).order_by(Office.name, Office.id)
    return list(db.session.scalars(stmt))


@bp.get("/rounds/<slug>/report.docx", endpoint="round_report")
@roles_required(SUPERVISOR)
def round_report(slug: str) -> Response:
    """The round summary for the inspection office: a summary table of every office, then each
    office's section in the office report's layout."""
    round_ = round_by_slug(slug)
    if round_ is None:
        abort(404)
    offices = _round_offices(round_)
    ledger = stats.LedgerFilter(round_id=round_.id)
    sections = report.office_sections(offices, ledger)
    start, end = report.period(sections, ledger)
    title = _("%(round)s整改意见办理情况汇总报告", round=round_.name)
    now = datetime.now(UTC)
    signed_by = round_.inspection_group or _("巡察工作办公室")
    data = docx_report.round_report_docx(report.Report(title, start, end, sections), now, signed_by)
    audit.record(
        "report.download",
        object_type="round",
        object_id=round_.id,
        details={"kind": "round", "round": round_.slug, "offices": len(offices)},
    )
    db.session.commit()
    response = download(
        data, docx_report.DOCX_MIMETYPE, f"巡察整改意见汇总报告-{round_.slug}-{now:%Y%m%d}.docx"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
