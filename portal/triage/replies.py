"""Replies: the office's answer, sent on the submitter's channel, and its optional publication.

``send_reply`` writes the Reply, puts the mail in the outbox (threaded under our
acknowledgement), moves the submission to "replied" and records the event, all in the caller's
transaction. Publication is a second, separate decision: staff ask for it, the anonymised text
waits in the editors' queue, and only ``approve_publication`` puts it on the notice page.

A reply speaks for the submission's office (its name signs the mail); the editors' queue of a
user holds only the replies of offices where that user is an editor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from portal import audit
from portal.extensions import db
from portal.intake.models import Submission
from portal.intake.sanitize import normalise_text
from portal.notices.models import Finding, Notice
from portal.offices.service import letter_identity
from portal.outbox import enqueue
from portal.outbox.models import OutboxMessage
from portal.staff.models import User
from portal.triage import workflow
from portal.triage.anonymise import anonymise
from portal.triage.merged import for_merged, merged_into
from portal.triage.models import CannedReply, Reply

BODY_MAX = 10_000
SUBJECT_GIST = 30  # characters of the submission's subject or body in the reply's subject
EDITOR_ROLES = ("editor",)  # admin passes every role check
REPLIER_ROLES = ("triager", "editor")


class ReplyError(ValueError):
    """The reply cannot be sent or published; the message is for staff (Chinese, translated)."""


@dataclass(frozen=True)
class CannedText:
    title: str
    body: str
    finding_number: int | None = None


# --- choosing the channel and the texts ------------------------------------------------------


def reply_channel(submission: Submission) -> str:
    """Where the answer goes: mail if we have an address, a letter if we have a postal address
    (letters, calls, visits), otherwise only /track. While someone says the contact on it is
    theirs and they never wrote it (not_me), nothing goes to that contact."""
    from portal.triage.not_me import is_disputed

    if is_disputed(submission):
        return "track"
    if submission.email:
        return "email"
    if submission.contact_address:
        return "letter"
    return "track"


def canned_texts(submission: Submission) -> list[CannedText]:
    """Texts to start from: stored canned replies for the submission's findings (and general
    ones), then one drafted from each linked finding's published measures."""
    findings = submission.findings
    ids = [f.id for f in findings]
    stored = db.session.scalars(
        select(CannedReply)
        .where(
            CannedReply.retired_at.is_(None),
            or_(
                # General texts are the answering office's own; a finding's fit wherever it is.
                (CannedReply.finding_id.is_(None))
                & (CannedReply.office_id == submission.office_id),
                CannedReply.finding_id.in_(ids),
            ),
        )
        .order_by(CannedReply.finding_id.is_(None), CannedReply.id)
    )
    numbers = {f.id: f.number for f in findings}
    texts = [CannedText(c.title, c.body, numbers.get(c.finding_id or 0)) for c in stored]
    texts += [_drafted(f) for f in findings]
    return texts


def _drafted(finding: Finding) -> CannedText:
    measures = "".join(f"{i}. {m.text}\n" for i, m in enumerate(finding.measures, start=1))
    status = f"目前该问题的整改状态为“{finding.status}”。" if finding.status else ""
    body = (
        f"您好！感谢您对巡察整改工作的关注。您反映的情况涉及公示中第{finding.number}项问题"
        f"（{finding.title}）。{status}针对该问题，我们采取了以下整改措施：\n{measures}"
        "我们将认真研究您的意见，持续抓好整改落实。"
    )
    return CannedText(f"第{finding.number}项：{finding.title}"[:80], body, finding.number)


def replies_for(submission: Submission) -> list[Reply]:
    return list(
        db.session.scalars(
            select(Reply).where(Reply.submission_id == submission.id).order_by(Reply.id)
        )
    )


# --- sending ---------------------------------------------------------------------------------


def _ack_message_id(submission: Submission) -> str | None:
    """Thread under our acknowledgement; failing that, under the submitter's own mail."""
    ack = db.session.scalar(
        select(OutboxMessage.message_id)
        .where(OutboxMessage.submission_id == submission.id, OutboxMessage.kind == "ack")
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    return ack or submission.message_id


def reply_subject(submission: Submission) -> str:
    gist = (submission.subject or submission.body or "").strip().splitlines()
    text = gist[0] if gist else ""
    if len(text) > SUBJECT_GIST:
        text = text[:SUBJECT_GIST] + "…"
    return f"[#{submission.code}] 答复：{text or '您反映的意见'}"


def _mail_text(submission: Submission, body: str) -> str:
    return render_template(
        "triage/reply_mail.txt",
        code=submission.code,
        body=body,
        office_name=letter_identity(submission.office)["office_name"],
        track_url=current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + "/track",
        rate_url=_rate_url(submission),
    )


def _rate_url(submission: Submission) -> str:
    """The signed 好差评 link of the reply mail (satisfaction.submission_for_token reads it)."""
    from portal.triage.satisfaction import link_token

    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}/track/rate/{link_token(submission)}"


def send_reply(
    submission: Submission, *, body: str, actor_user: User, publish_request: bool = False
) -> Reply:
    """Answer ``submission``; writes Reply, outbox mail, status change and event, never commits.

    Raises ReplyError (nothing written) for an empty body or a submission in a state that
    cannot be answered (spam, duplicate...). A second reply to a replied submission is fine.
    """
    text = normalise_text(body or "").strip()
    if not text:
        raise ReplyError(_("答复内容不能为空。"))
    if len(text) > BODY_MAX:
        raise ReplyError(_("答复内容不能超过%(n)s字。", n=BODY_MAX))
    if submission.status != "replied" and not workflow.can_transition(submission.status, "replied"):
        raise ReplyError(
            _("状态为“%(status)s”的意见不能答复。", status=workflow.label(submission.status))
        )

    channel = reply_channel(submission)
    reply = Reply(
        submission_id=submission.id,
        body=text,
        author=actor_user.id,
        author_name=actor_user.display_name or actor_user.email,
        channel=channel,
        created_at=datetime.now(UTC),
    )
    db.session.add(reply)
    db.session.flush()
    if channel == "email":
        message = _enqueue_mail(submission, text)
        reply.outbox_id = message.id
    if publish_request:
        request_publication(reply, actor=actor_user.actor)
    if submission.status != "replied":
        workflow.change_status(submission, "replied", actor=actor_user.actor)
    _answer_merged(submission, text, actor_user)
    _notice_page_changed(submission.notice_id)
    audit.record(
        "reply.send",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "reply": reply.id, "channel": channel},
        actor=actor_user.actor,
    )
    return reply


def _answer_merged(original: Submission, text: str, actor_user: User) -> None:
    """Everyone merged into ``original`` gets the same answer on their own channel: a Reply
    row of their own (shown on their /track, listed for a letter like any other) and a mail
    when they gave an address. Their status stays "duplicate"."""
    text = for_merged(text, original)
    for merged in merged_into(original):
        channel = reply_channel(merged)
        copy = Reply(
            submission_id=merged.id,
            body=text,
            author=actor_user.id,
            author_name=actor_user.display_name or actor_user.email,
            channel=channel,
            created_at=datetime.now(UTC),
        )
        db.session.add(copy)
        db.session.flush()
        if channel == "email":
            copy.outbox_id = _enqueue_mail(merged, text).id
        audit.record(
            "reply.send",
            object_type="submission",
            object_id=merged.id,
            details={
                "code": merged.code,
                "reply": copy.id,
                "channel": channel,
                "merged_into": original.code,
            },
            actor=actor_user.actor,
        )


def _enqueue_mail(submission: Submission, text: str) -> OutboxMessage:
    address = submission.email
    assert address is not None  # reply_channel() chose "email"
    return enqueue(
        to=address,
        subject=reply_subject(submission),
        text=_mail_text(submission, text),
        submission_id=submission.id,
        submission_code=submission.code,
        kind="reply",
        in_reply_to=_ack_message_id(submission),
    )


def _notice_page_changed(notice_id: int | None) -> None:
    """The notice page shows reply statistics and published replies and is cached per
    version: bump it. updated_at stays, so feeds do not announce a changed notice."""
    if notice_id is None:
        return
    db.session.execute(
        update(Notice)
        .where(Notice.id == notice_id)
        .values(version=Notice.version + 1, updated_at=Notice.updated_at)
    )


# --- publication -----------------------------------------------------------------------------


def request_publication(reply: Reply, *, actor: str) -> None:
    """Queue an anonymised copy of question and answer for an editor (no commit)."""
    submission = reply.submission
    names = (submission.contact_name,)
    reply.public_requested = True
    reply.public_state = "pending"
    reply.public_question = anonymise(submission.body, names)
    reply.public_text = anonymise(reply.body, names)
    reply.public_finding_id = _main_finding_id(submission)
    db.session.flush()
    audit.record(
        "reply.publication_requested",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "reply": reply.id},
        actor=actor,
    )


def _main_finding_id(submission: Submission) -> int | None:
    links = sorted(submission.finding_links, key=lambda link: (link.source != "staff", link.id))
    return links[0].finding_id if links else None


def pending_publications(offices: frozenset[int] | None = None) -> list[Reply]:
    """Replies waiting for an editor, of ``offices`` (None: every office), oldest first."""
    query = select(Reply).where(Reply.public_state == "pending").order_by(Reply.created_at)
    if offices is not None:
        query = query.join(Submission, Submission.id == Reply.submission_id).where(
            Submission.office_id.in_(sorted(offices))
        )
    return list(db.session.scalars(query))


def approve_publication(
    reply: Reply, *, editor: User, question: str, answer: str, finding_id: int | None = None
) -> None:
    """Publish the editor's final text; it is anonymised once more in case the edit put a name
    back. Never commits."""
    if reply.public_state not in ("pending", "rejected", "approved"):
        raise ReplyError(_("这条答复没有申请公开。"))
    submission = reply.submission
    names = (submission.contact_name,)
    question_text = anonymise(normalise_text(question or "").strip(), names)
    answer_text = anonymise(normalise_text(answer or "").strip(), names)
    if not answer_text:
        raise ReplyError(_("公开的答复内容不能为空。"))
    if finding_id is not None:
        reply.public_finding_id = _finding_of_notice(finding_id, submission.notice_id)
    reply.public_question = question_text
    reply.public_text = answer_text
    reply.public_state = "approved"
    reply.approved_by = editor.id
    reply.approved_at = datetime.now(UTC)
    reply.reject_reason = None
    _notice_page_changed(submission.notice_id)
    audit.record(
        "reply.publication_approved",
        object_type="submission",
        object_id=submission.id,
        details={"code": submission.code, "reply": reply.id, "finding": reply.public_finding_id},
        actor=editor.actor,
    )


def _finding_of_notice(finding_id: int, notice_id: int | None) -> int:
    finding = db.session.get(Finding, finding_id)
    if finding is None or finding.notice_id != notice_id:
        raise ReplyError(_("所选问题不属于该意见所涉公示。"))
    return finding.id


def reject_publication(reply: Reply, *, editor: User, reason: str) -> None:
    was_public = reply.public_state == "approved"
    reply.public_state = "rejected"
    reply.reject_reason = (reason or "").strip()[:2000] or None
    reply.approved_by = editor.id
    reply.approved_at = datetime.now(UTC)
    if was_public:
        _notice_page_changed(reply.submission.notice_id)
    audit.record(
        "reply.publication_rejected",
        object_type="submission",
        object_id=reply.submission_id,
        details={"code": reply.submission.code, "reply": reply.id, "reason": reply.reject_reason},
        actor=editor.actor,
    )


def published_replies(notice_id: int) -> dict[int, list[Reply]]:
    """Approved public replies of a notice, by finding id, oldest first."""
    rows = db.session.scalars(
        select(Reply)
        .join(Finding, Finding.id == Reply.public_finding_id)
        .where(Finding.notice_id == notice_id, Reply.public_state == "approved")
        .order_by(Reply.approved_at, Reply.id)
    )
    out: dict[int, list[Reply]] = {}
    for reply in rows:
        out.setdefault(reply.public_finding_id or 0, []).append(reply)
    return out


def finding_choices(submission: Submission) -> list[Finding]:
    """Findings a publication may be filed under: the submission's notice's active ones."""
    if submission.notice_id is None:
        return []
    return list(
        db.session.scalars(
            select(Finding)
            .where(Finding.notice_id == submission.notice_id, Finding.active.is_(True))
            .order_by(Finding.number)
        )
    )
