"""Public web intake: the feedback form and the receipt page (/track lives in triage).

The views are thin: they check the form, the captcha and the honeypot, then hand everything to
``record_submission`` (the one door) and show what came back. The blank form is the first step
of every submission, so what it needs of its notice is kept in the per-notice caches
(portal.intake.form_notice); a POST always reads the notice from the database. A POST over the
request cap comes back as the form with the citizen's text (portal.intake.oversize); the receipt
page can mail a new secret once (portal.intake.secret_mail).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
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
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from portal import site
from portal.caching import notice_cache
from portal.extensions import db, limiter
from portal.intake import captcha
from portal.intake.form_notice import (
    NoticeMeta,
    cached_notice_meta,
    finding_numbers,
    findings_by_category,
    preselected_finding,
    public_notice,
    window_closed_message,
)
from portal.intake.forms import (
    FeedbackForm,
    apply_service_errors,
    incoming_files,
    normalise_phone,
    upload_limits,
)
from portal.intake.oversize import text_fields_only
from portal.intake.secret_mail import reissue_secret_by_mail
from portal.intake.service import (
    Contact,
    Incoming,
    SubmissionRejected,
    find_by_code,
    record_submission,
)
from portal.intake.slips import tracking_url
from portal.personal_data import mask_email
from portal.printing import qr_data_uri
from portal.staff import session_store
from portal.workdays import WorkCalendar, utcnow

bp = Blueprint("intake", __name__)

FEEDBACK_FIELDS = (
    "body", "findings", "contact_name", "contact_phone", "contact_email", "anonymous",
    "consent", "attachments",
)  # fmt: skip
RECEIPT_KEY = "intake.receipt"
SECRET_MAIL_KEY = "intake.secret_mail"  # noqa: S105 - a session key: this browser may ask once
SECRET_MAIL_TTL = timedelta(hours=1)
CAPTCHA_SCRIPT = "https://js.hcaptcha.com/1/api.js?hl=zh-CN"
Page = tuple[str, int]


@bp.record_once
def _warn_about_captcha(state: BlueprintSetupState) -> None:
    captcha.warn_if_disabled(
        captcha.CaptchaSettings.from_config(state.app.config), state.app.logger
    )


def _submit_limit() -> str:
    return current_app.config["RATELIMIT_SUBMIT"]


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
            groups=findings_by_category(notice),
            preselected=preselected_finding(notice),
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


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Page:
    """The form's POST over MAX_CONTENT_LENGTH (raised while CSRF protection reads the form):
    the form again with the citizen's text; any other page of this blueprint: the 413 page."""
    slug = (request.view_args or {}).get("slug")
    if request.endpoint != "intake.feedback" or request.method != "POST" or not slug:
        return site.render_error(413)
    try:
        meta = NoticeMeta.of(public_notice(slug))
    except HTTPException as gone:  # withdrawn meanwhile: its own page, not a server error
        return site.render_error(gone.code or 404)
    return _oversized_form(meta)


def _oversized_form(meta: NoticeMeta) -> Page:
    """A form POST over the request cap (files too large got past the page's own check, or
    JavaScript is off): read it anyway, up to FEEDBACK_OVERSIZE_READ_BYTES, keep the text
    fields, drop the files unread, and show the form again with everything typed in it.
    Nothing is recorded. Beyond that size the usual 413 page answers."""
    fields = text_fields_only(int(current_app.config["FEEDBACK_OVERSIZE_READ_BYTES"]))
    if fields is None:
        return site.render_error(413)
    form = FeedbackForm(formdata=fields)
    form.set_findings(finding_numbers(meta))
    form.validate()  # the CSRF check and every other field's message, all shown at once
    form.attachments.errors = [*form.attachments.errors, site.upload_too_large_message()]
    title = _("上传内容过大：您的意见尚未提交，填写的内容已保留，请重新选择较小的附件")
    return _render_form(meta, form, 413, summary_title=title)


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
    notice = public_notice(slug) if request.method == "POST" else None
    meta = NoticeMeta.of(notice) if notice is not None else cached_notice_meta(slug)
    received_at = utcnow()
    closed = window_closed_message(meta, received_at)
    if closed:
        page = render_template("intake/closed.html", notice=meta, message=closed)
        return page, 403 if request.method == "POST" else 200

    form = FeedbackForm()
    form.set_findings(finding_numbers(meta))
    if request.method == "GET":
        chosen = preselected_finding(meta)
        if chosen is not None:
            form.findings.data = [chosen.number]
        return _blank_form(meta, form, chosen.number if chosen else None)
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
    if contact and contact.email:
        session_store.stash(SECRET_MAIL_KEY, {"code": receipt.code}, ttl=SECRET_MAIL_TTL)
    return redirect(url_for(".receipt"), code=303)


@bp.get("/feedback/receipt")
def receipt() -> Response:
    data = session_store.take(RECEIPT_KEY)
    context: dict[str, Any] = {
        "receipt": data,
        "track_url": tracking_url(),
        "can_mail_secret": session_store.peek(SECRET_MAIL_KEY) is not None,
    }
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
            track_qr=qr_data_uri(tracking_url()),
        )
    response = make_response(render_template("intake/receipt.html", **context))
    response.headers["Cache-Control"] = "no-store"  # the secret must not sit in any cache
    return response


def _secret_mail_limit() -> str:
    return current_app.config["RATELIMIT_SECRET_MAIL"]


@bp.post("/feedback/receipt/mail")
@limiter.limit(_secret_mail_limit)
def mail_secret() -> tuple[str, int]:
    """Mail a new secret to the address given with the opinion (see intake.secret_mail)."""
    allowed = session_store.take(SECRET_MAIL_KEY)  # once: a second click finds nothing
    submission = find_by_code(allowed["code"]) if allowed else None
    if submission is not None and submission.status == "spam":
        # Caught by the honeypot: no mail to whatever address a bot typed, and the same page
        # as a real sending, so the bot does not learn it was caught.
        return render_template("intake/receipt.html", receipt=None, mailed_to=""), 200
    if submission is None or not reissue_secret_by_mail(submission):
        message = _(
            "无法再次发送：只有提交意见的浏览器可以在提交后一小时内申请一次。"
            "请凭已保存的回执编号和查询密码查询。"
        )
        return render_template("intake/receipt.html", receipt=None, mail_refused=message), 409
    db.session.commit()
    masked = mask_email(submission.email)
    return render_template("intake/receipt.html", receipt=None, mailed_to=masked), 200
