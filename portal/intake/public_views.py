"""Public web intake: the feedback form and the receipt page (/track lives in triage).

The views are thin: they check the form, the captcha and the honeypot, then hand everything to
``record_submission`` (the one door) and show what came back. The blank form is the first step
of every submission, so what it needs of its notice is kept in the per-notice caches
(portal.caching); a POST always reads the notice from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import load_only
from werkzeug.wrappers import Response as BaseResponse

from portal import site
from portal.caching import notice_cache
from portal.extensions import db, limiter
from portal.intake import captcha
from portal.intake.forms import (
    FeedbackForm,
    apply_service_errors,
    incoming_files,
    normalise_phone,
    upload_limits,
)
from portal.intake.service import (
    Contact,
    Incoming,
    SubmissionRejected,
    record_submission,
)
from portal.notices.models import Notice
from portal.offices.models import Office
from portal.offices.service import reply_workdays
from portal.staff import session_store
from portal.workdays import WorkCalendar, to_local, utcnow

bp = Blueprint("intake", __name__)

FEEDBACK_FIELDS = (
    "body", "findings", "contact_name", "contact_phone", "contact_email", "anonymous",
    "consent", "attachments",
)  # fmt: skip
RECEIPT_KEY = "intake.receipt"
CAPTCHA_SCRIPT = "https://js.hcaptcha.com/1/api.js?hl=zh-CN"
Page = tuple[str, int]


@bp.record_once
def _warn_about_captcha(state: BlueprintSetupState) -> None:
    captcha.warn_if_disabled(
        captcha.CaptchaSettings.from_config(state.app.config), state.app.logger
    )


def _submit_limit() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


def _public_notice(slug: str) -> Notice:
    """The notice as the database has it now: 404 for a draft, 410 once withdrawn."""
    # Only what the form needs: the notice's text and sections are large and not shown here.
    notice = db.session.scalar(
        select(Notice)
        .options(
            load_only(
                Notice.id,
                Notice.slug,
                Notice.title,
                Notice.state,
                Notice.version,
                Notice.feedback_opens_at,
                Notice.feedback_closes_at,
                Notice.office_id,
            )
        )
        .where(Notice.slug == slug)
    )
    if notice is None or notice.state == "draft":
        abort(404)
    if notice.state == "withdrawn":
        abort(410)
    return notice


@dataclass(frozen=True)
class NoticeMeta:
    """What the form page needs of its notice (no ORM object: it outlives the request):
    its dates, and the office the opinion goes to with that office's reply deadline."""

    id: int
    slug: str
    title: str
    version: int
    feedback_opens_at: datetime | None
    feedback_closes_at: datetime | None
    office_name: str
    reply_workdays: int

    @classmethod
    def of(cls, notice: Notice) -> NoticeMeta:
        office = db.session.get(Office, notice.office_id)
        return cls(
            notice.id,
            notice.slug,
            notice.title,
            notice.version,
            notice.feedback_opens_at,
            notice.feedback_closes_at,
            office.name if office is not None else "",
            reply_workdays(office),
        )


def _cached_notice_meta(slug: str) -> NoticeMeta:
    """The published notice's form facts, re-read at most every NOTICE_CACHE_TTL seconds.

    Every submission starts with a GET of the form; within the TTL it costs no database
    round trip. A withdrawal or a new version shows within the TTL, as on the notice page."""
    meta: NoticeMeta = notice_cache("intake.notice_meta").get_or_make(
        slug,
        lambda: NoticeMeta.of(_public_notice(slug)),
        max_age=current_app.config["NOTICE_CACHE_TTL"],
    )
    return meta


def _window_closed_message(notice: NoticeMeta, now: datetime) -> str | None:
    """Why the feedback window is shut right now (dates in Asia/Shanghai), or None if open."""
    opens, closes = notice.feedback_opens_at, notice.feedback_closes_at
    if opens is not None and now < to_local(opens):
        return _(
            "本公示的意见征集将于%(when)s开始，届时欢迎提出意见。", when=site.datetime_text(opens)
        )
    if closes is not None and now >= to_local(closes):
        return _(
            "本公示的意见征集已于%(when)s截止，网上表单不再接收意见。",
            when=site.datetime_text(closes),
        )
    return None


@dataclass(frozen=True)
class FindingChoice:
    number: int
    title: str


FindingGroups = list[tuple[Any, list[FindingChoice]]]  # (category title, its active findings)


def _findings_by_category(notice: NoticeMeta) -> FindingGroups:
    """Active findings grouped under their category titles, in published order."""
    # Per (notice id, version): the form page is fetched before every submission, and
    # re-reading categories and findings each time was most of its cost.
    cache = notice_cache("intake.finding_groups")
    groups: FindingGroups = cache.get_or_make(
        (notice.id, notice.version), lambda: _read_finding_groups(notice.id)
    )
    return groups


def _read_finding_groups(notice_id: int) -> FindingGroups:
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        abort(404)
    groups: FindingGroups = [
        (
            category.title,
            [FindingChoice(f.number, f.title) for f in category.findings if f.active],
        )
        for category in notice.categories
    ]
    loose = [
        FindingChoice(f.number, f.title)
        for f in notice.findings
        if f.active and f.category_id is None
    ]
    if loose:
        groups.append((_l("其他问题"), loose))  # lazy: the cache is shared by languages
    return [(title, choices) for title, choices in groups if choices]


def _finding_numbers(notice: NoticeMeta) -> set[int]:
    return {choice.number for _, choices in _findings_by_category(notice) for choice in choices}


def _captcha_settings() -> captcha.CaptchaSettings:
    return captcha.CaptchaSettings.from_config(current_app.config)


def _render_form(notice: NoticeMeta, form: FeedbackForm, status: int = 200, **extra: Any) -> Page:
    settings = _captcha_settings()
    if settings.enabled:
        g.csp = site.CSP_WITH_CAPTCHA  # only this page may load hCaptcha's script and frame
    return (
        render_template(
            "intake/feedback.html",
            notice=notice,
            form=form,
            groups=_findings_by_category(notice),
            captcha_sitekey=settings.sitekey if settings.enabled else None,
            captcha_script=CAPTCHA_SCRIPT,
            retention_days=current_app.config["RETENTION_DAYS"],
            reply_workdays=notice.reply_workdays,
            limits=upload_limits(),
            **extra,
        ),
        status,
    )


# The blank form page per (notice, version, language, preselected finding, captcha key), split
# around its CSRF token: every submission starts with this page, and rendering it each time was
# a fifth of a submission's cost. Only the token differs between two visitors' blank forms.


def _blank_form(notice: NoticeMeta, form: FeedbackForm, preselected: int | None) -> Page:
    settings = _captcha_settings()
    if "_flashes" in session:  # a flashed message makes this page different: render it
        return _render_form(notice, form)
    token = form.csrf_token.current_token
    key = (
        notice.id,
        notice.version,
        notice.office_name,
        notice.reply_workdays,
        site.request_lang(),
        preselected,
        settings.sitekey,
    )
    cache = notice_cache("intake.blank_forms", max_entries=1024)
    parts: tuple[str, str] | None = cache.get(key)
    if parts is None:
        # Shared by every visitor: rendered as a shared page (no session parts of base.html).
        html, status = _render_form(notice, form, shared_page=True)
        if not token or html.count(token) != 1:
            return html, status
        before, _sep, after = html.partition(token)
        cache.put(key, (before, after))
        return html, status
    if settings.enabled:
        g.csp = site.CSP_WITH_CAPTCHA
    return parts[0] + token + parts[1], 200


def _contact(form: FeedbackForm) -> Contact | None:
    if not form.wants_contact:
        return None  # anonymous: whatever was typed in the contact fields is dropped here
    phone = form.contact_phone.data
    return Contact(
        name=form.contact_name.data or None,
        phone=normalise_phone(phone) if phone else None,
        email=form.contact_email.data or None,
    )


@bp.route("/notices/<slug>/feedback", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
def feedback(slug: str) -> Page | BaseResponse:
    # A POST always asks the database: a withdrawn notice must not take one more submission.
    notice = _public_notice(slug) if request.method == "POST" else None
    meta = NoticeMeta.of(notice) if notice is not None else _cached_notice_meta(slug)
    received_at = utcnow()
    closed = _window_closed_message(meta, received_at)
    if closed:
        page = render_template("intake/closed.html", notice=meta, message=closed)
        return page, 403 if request.method == "POST" else 200

    form = FeedbackForm()
    form.set_findings(_finding_numbers(meta))
    if request.method == "GET":
        preselected = request.args.get("finding", type=int)
        if preselected in form.findings.allowed:
            form.findings.data = [preselected]
        else:
            preselected = None
        return _blank_form(meta, form, preselected)
    if not form.validate():
        return _render_form(meta, form, 422)

    status, hold_reason = "received", None
    if form.honeypot_filled:
        status = "spam"  # same success page: the bot must not learn it was caught
    else:
        settings = _captcha_settings()
        if settings.enabled:
            outcome = captcha.verify(settings, form.captcha_response.data, request.remote_addr)
            if outcome is captcha.CaptchaResult.REJECTED:
                return _render_form(
                    meta, form, 422, captcha_error=_("人机验证未通过，请重新验证后提交。")
                )
            if outcome is captcha.CaptchaResult.UNAVAILABLE:
                status, hold_reason = "held", "captcha unavailable"

    contact = _contact(form)
    try:
        receipt = record_submission(
            Incoming(
                channel="web",
                body=form.body.data,
                notice=notice,
                findings=form.findings.data or (),
                contact=contact,
                anonymous=bool(form.anonymous.data),
                consent=bool(form.consent.data) and contact is not None,
                attachments=incoming_files(form.uploaded_files()),
                received_at=received_at,
                status=status,
                hold_reason=hold_reason,
            )
        )
    except SubmissionRejected as exc:
        unplaced = apply_service_errors(form, exc.errors, FEEDBACK_FIELDS)
        return _render_form(meta, form, 422, general_errors=unplaced)

    # Shown once: the receipt page pops it, so a reload no longer shows the secret.
    # The secret stays server-side: the session cookie is readable by whoever holds it.
    session_store.stash(
        RECEIPT_KEY,
        {
            "code": receipt.code,
            "secret": receipt.secret,
            "received_at": received_at.isoformat(),
            "notice_slug": meta.slug,
            "notice_title": meta.title,
            "office_name": meta.office_name,
            "reply_workdays": meta.reply_workdays,
            "email": bool(contact and contact.email),
        },
    )
    return redirect(url_for(".receipt"), code=303)


@bp.get("/feedback/receipt")
def receipt() -> Response:
    data = session_store.take(RECEIPT_KEY)
    context: dict[str, Any] = {"receipt": data}
    if data:
        received_at = datetime.fromisoformat(data["received_at"])
        workdays = data.get("reply_workdays") or current_app.config["REPLY_WITHIN_WORKDAYS"]
        context.update(
            secret_groups=" ".join(
                data["secret"][i : i + 4] for i in range(0, len(data["secret"]), 4)
            ),
            received_text=site.datetime_text(received_at),
            reply_workdays=workdays,
            reply_due=site.date_text(
                WorkCalendar.from_config(current_app.config).due_date(received_at, workdays)
            ),
        )
    response = make_response(render_template("intake/receipt.html", **context))
    response.headers["Cache-Control"] = "no-store"  # the secret must not sit in any cache
    return response
