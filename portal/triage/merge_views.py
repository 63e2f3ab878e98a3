"""Merging a duplicate, picked instead of typed: a list of candidates (the similar opinions
first, then a search by receipt code or words within the office), a preview of the chosen
original with a confirmation, then the detail page's POST /merge. Works without JavaScript.

Both pages are GET and change nothing; only triagers (and admins) of the office see them. A code
of another office reads like a code that does not exist.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.intake.models import Submission
from portal.intake.service import find_by_code
from portal.staff.auth import roles_required
from portal.staff.scope import can
from portal.triage import duplicates, workflow
from portal.triage.views import ACT_ROLES, bp, load, no_store

QUERY_MAX = 100


def _pickable(submission: Submission, original: Submission | None) -> tuple[int, str | None]:
    """(HTTP status, why ``original`` cannot be chosen) — (200, None) when it can."""
    if (
        original is None
        or original.office_id != submission.office_id
        or not can(original.office_id)
    ):
        return 404, _("找不到该回执编号。")
    if original.id == submission.id:
        return 409, _("不能将意见标记为自身的重复。")
    if original.status == "duplicate":
        return 409, _("%(code)s 本身已是重复意见，请选择原始意见。", code=original.code)
    return 200, None


@bp.get("/submissions/<code>/merge", endpoint="merge_pick")
@roles_required(*ACT_ROLES)
def merge_pick(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    if "duplicate" not in workflow.allowed_targets(submission.status):
        abort(409)
    query = (request.args.get("q") or "").strip()[:QUERY_MAX]
    similar, _count = duplicates.similar_with_rows(submission)
    similar = [(s, row) for s, row in similar if row.status != "duplicate"]
    listed = {row.id for _s, row in similar}
    found = [
        row
        for row in (duplicates.merge_candidates(submission, query) if query else [])
        if row.id not in listed
    ]
    html = render_template(
        "triage/merge_pick.html",
        submission=submission,
        similar=similar,
        found=found,
        query=query,
        label=workflow.label,
    )
    return no_store(Response(html, mimetype="text/html"))


@bp.get("/submissions/<code>/merge/confirm", endpoint="merge_confirm")
@roles_required(*ACT_ROLES)
def merge_confirm(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    original = find_by_code(request.args.get("original") or "")
    status, problem = _pickable(submission, original)
    shown = original if problem is None else None
    relation = duplicates.relation(submission, shown) if shown is not None else None
    html = render_template(
        "triage/merge_confirm.html",
        submission=submission,
        original=shown,
        problem=problem,
        relation=relation,
        similar_enough=relation is not None and relation.score >= duplicates.NEAR_DUPLICATE,
        label=workflow.label,
    )
    return no_store(Response(html, status=status, mimetype="text/html"))
