"""Accepting the Router's referral suggestion (建议转办): a confirmation page naming the body
and why, whose form posts to the detail page's /refer with that body filled in. The page is a
GET and changes nothing; only triagers (and admins) of the office see it.
"""

from __future__ import annotations

from flask import render_template
from werkzeug.wrappers import Response

from portal.staff.auth import roles_required
from portal.triage import findings, workflow
from portal.triage.views import ACT_ROLES, bp, load, no_store


@bp.get("/submissions/<code>/refer/suggested", endpoint="refer_suggested")
@roles_required(*ACT_ROLES)
def refer_suggested(code: str) -> Response:
    submission = load(code, *ACT_ROLES)
    suggestion = findings.referral_suggestion(submission)
    may_refer = "referred" in workflow.allowed_targets(submission.status)
    html = render_template(
        "triage/refer_confirm.html",
        submission=submission,
        suggestion=suggestion if may_refer else None,
        label=workflow.label,
    )
    return no_store(
        Response(html, status=200 if suggestion and may_refer else 409, mimetype="text/html")
    )
