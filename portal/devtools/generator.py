"""Realistic fake submissions, built in memory for `flask dev seed`.

Bodies are Chinese sentences assembled from phrase banks; channels, statuses and dates (over
the past year) follow plausible proportions; some submissions are linked to findings, have
follow-ups, status histories and replies. Every row is valid as record_submission would have
written it: unique codes, keyed secret hashes, contact data for a few, due dates, search text.
Rows are plain dicts with their ids assigned here; seed.py writes them.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import itertools
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from portal.intake import receipts
from portal.triage import search
from portal.triage.routing import Router
from portal.workdays import WorkCalendar, local_date

CODE_SPACE = 32**receipts.CODE_LENGTH  # 2**50
CODE_MULTIPLIER = 0x2545F4914F6CD  # odd: (i * M) mod 2**50 is a bijection, so codes never repeat

OPENERS = (
    "您好，", "尊敬的领导：", "我是一名普通群众，", "看到贵院公示后，", "作为本地居民，",
    "我想反映一个情况：", "我是附近的商户，", "本人长期关注此事，", "",
)  # fmt: skip
TOPICS = (
    "单位食堂浪费现象比较严重，每天倒掉很多饭菜",
    "公务用车经常在周末停在商场门口，是否存在私用",
    "过节时给职工发放购物卡，不知道钱从哪里来",
    "干部提拔任用的程序不够公开，群众不了解情况",
    "扣押的车辆一直停在院子里，案件结束了也不退还",
    "附近工厂夜间偷偷排污，河水发黑发臭",
    "办事窗口工作人员态度生硬，来回跑了好几趟",
    "公众号很久没有更新，发布的内容也不够及时",
    "涉案财物管理混乱，当事人多次申请都没有回音",
    "信访件转来转去，到现在还没有一个明确答复",
    "检察听证会的通知太晚，群众来不及参加",
    "有干部在外面兼职拿报酬，影响正常工作",
    "办公楼装修花费很大，超出了标准",
    "司法救助申请审批太慢，困难群众等不起",
    "未成年人保护工作宣传不够，学校周边网吧仍然接待学生",
    "公益诉讼线索举报后没有下文",
    "会议太多，基层干部疲于应付，文山会海问题突出",
    "食品安全问题：学校门口小摊卖过期零食",
    "案件办理超过期限，当事人一直等不到结果",
    "律师阅卷预约难，电话经常打不通",
)
DETAILS = (
    "这种情况已经持续了大半年。", "周围很多群众都有意见。", "我之前打过电话反映过一次。",
    "希望能够认真核查。", "具体时间大概是上个月中旬。", "有照片可以作证。", "", "",
)  # fmt: skip
REQUESTS = (
    "请有关部门尽快处理。", "希望整改能落到实处，不要走过场。", "建议公开整改结果，接受群众监督。",
    "恳请给予答复。", "希望以后能建立长效机制。", "",
)  # fmt: skip
CLOSERS = ("谢谢！", "此致敬礼。", "盼复。", "", "")
SUBJECTS = ("反映问题", "意见建议", "关于整改的意见", "举报", "咨询", "建议")
REPLIES = (
    "您反映的问题已收悉，我们已转相关部门核查，并将持续跟进整改落实情况。",
    "经核查，您反映的情况属实，已责令相关部门立即整改，并建立长效监督机制。",
    "感谢您的监督。经调查，相关车辆已按规定办理退还手续。",
    "您提出的建议很有价值，我们将在下一步工作中认真研究采纳。",
    "经核实，该问题已于近期完成整改，欢迎继续监督。",
)
NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏")
CHANNEL_WEIGHTS = {"web": 55, "email": 20, "letter": 8, "phone": 10, "visit": 4, "box": 3}
# Final status of a submission older than three weeks; recent ones are mostly still open.
STATUS_WEIGHTS_OLD = {
    "received": 5, "triaged": 6, "in_progress": 10, "replied": 34, "closed": 30,
    "duplicate": 4, "referred": 4, "spam": 4, "held": 3,
}  # fmt: skip
STATUS_WEIGHTS_RECENT = {
    "received": 40, "triaged": 20, "in_progress": 15, "replied": 10, "held": 5, "spam": 5,
    "duplicate": 3, "referred": 2,
}  # fmt: skip
# The workflow steps that lead from "received" to each final status.
PATHS: dict[str, tuple[str, ...]] = {
    "received": (),
    "held": (),
    "triaged": ("triaged",),
    "in_progress": ("triaged", "in_progress"),
    "replied": ("triaged", "replied"),
    "closed": ("triaged", "replied", "closed"),
    "duplicate": ("duplicate",),
    "referred": ("referred",),
    "spam": ("spam",),
}
REASONS = {"closed": "已答复，办结", "duplicate": "与先前意见重复", "referred": "转有关部门办理",
           "spam": "无关广告"}  # fmt: skip


def code_for(serial: int) -> str:
    """A receipt code for a serial number: distinct serials give distinct codes."""
    value = (serial * CODE_MULTIPLIER) % CODE_SPACE
    chars = []
    for _ in range(receipts.CODE_LENGTH):
        value, digit = divmod(value, 32)
        chars.append(receipts.ALPHABET[digit])
    raw = "".join(chars)
    return f"{raw[:5]}-{raw[5:]}"


def secret_hash(code: str, secret: str, key: bytes) -> str:
    """receipts.hash_secret for a code made by code_for and a secret of digits, without the
    normalising a typed code needs (a tenth of the seed's time otherwise)."""
    message = f"{code.replace('-', '')}:{secret}".encode()
    return f"{receipts.HASH_SCHEME}${hmac.new(key, message, hashlib.sha256).hexdigest()}"


class Weighted:
    """Draws keys of a {key: weight} table (precomputed, unlike random.choices per call)."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.keys = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def draw(self, rng: random.Random) -> str:
        point = rng.random() * self.cumulative[-1]
        return self.keys[bisect.bisect_right(self.cumulative, point)]


CHANNELS = Weighted(CHANNEL_WEIGHTS)
STATUSES_OLD = Weighted(STATUS_WEIGHTS_OLD)
STATUSES_RECENT = Weighted(STATUS_WEIGHTS_RECENT)


def body_text(rng: random.Random) -> tuple[str, int]:
    """A comment and the index of its main topic in TOPICS."""
    topic = rng.randrange(len(TOPICS))
    parts = [rng.choice(OPENERS), TOPICS[topic], "。", rng.choice(DETAILS)]
    if rng.random() < 0.3:
        parts += [rng.choice(TOPICS), "。"]
    parts += [rng.choice(REQUESTS), rng.choice(CLOSERS)]
    return "".join(parts), topic


def topic_findings(router: Router) -> list[list[int]]:
    """Finding numbers each topic concerns, as cold routing sees it (links stay plausible)."""
    return [[s.number for s in router.suggest(topic, limit=2)] for topic in TOPICS]


@dataclass(frozen=True)
class Target:
    """A notice submissions may be about, with its office and that office's deadlines."""

    notice_id: int
    office_id: int | None
    finding_ids: Sequence[Sequence[int]]  # per topic in TOPICS: ids of the findings it concerns
    ack_days: int = 3
    reply_days: int = 15


def mail_raw(message_id: str, subject: str | None, body: str, received: datetime) -> bytes:
    """A small RFC 5322 message as mail ingest keeps it (zlib), for a seeded email row."""
    text = (
        f"Message-ID: {message_id}\r\nDate: {received:%a, %d %b %Y %H:%M:%S +0000}\r\n"
        f"From: citizen@example.cn\r\nSubject: {subject or ''}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    )
    return zlib.compress(text.encode("utf-8"))


@dataclass
class Batch:
    submissions: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    search: list[dict[str, Any]] = field(default_factory=list)
    mail: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Generator:
    """Builds rows; ids are assigned here so related rows need no round trip.

    Each submission goes to one of ``targets``, picked by ``weights`` (None: evenly)."""

    rng: random.Random
    targets: Sequence[Target]
    calendar: WorkCalendar
    now: datetime
    next_ids: dict[str, int]
    code_base: int
    secret_key: bytes
    weights: Sequence[float] | None = None
    _due_cache: dict[tuple[date, int], date] = field(default_factory=dict)
    _cumulative: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = 0.0
        for weight in self.weights or [1.0] * len(self.targets):
            total += weight
            self._cumulative.append(total)

    def _target(self) -> Target:
        if len(self.targets) == 1:
            return self.targets[0]
        point = self.rng.random() * self._cumulative[-1]
        return self.targets[bisect.bisect_right(self._cumulative, point)]

    def _due(self, day: date, workdays: int) -> date:
        key = (day, workdays)
        if key not in self._due_cache:
            self._due_cache[key] = self.calendar.add_workdays(day, workdays)
        return self._due_cache[key]

    def _id(self, table: str) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + 1
        return value

    def batch(self, size: int) -> Batch:
        out = Batch()
        for _ in range(size):
            self._one(out)
        return out

    def _one(self, out: Batch) -> None:
        rng = self.rng
        target = self._target()
        sid = self._id("submissions")
        received = self.now - timedelta(seconds=rng.randrange(365 * 86400))
        age_days = (self.now - received).days
        status = (STATUSES_OLD if age_days > 21 else STATUSES_RECENT).draw(rng)
        channel = CHANNELS.draw(rng)
        code = code_for(self.code_base + sid)
        secret = receipts.generate_secret()
        body, topic = body_text(rng)
        subject = rng.choice(SUBJECTS) if channel in ("web", "email") else None
        day = local_date(received)
        contact = self._contact(channel)
        message_id = f"<seed-{code}@mail.example.cn>" if channel == "email" else None
        out.submissions.append(
            {
                "id": sid,
                "code": code,
                "secret_hash": secret_hash(code, secret, self.secret_key),
                "channel": channel,
                "status": status,
                "subject": subject,
                "body": body,
                "notice_id": target.notice_id,
                "office_id": target.office_id,
                "received_at": received,
                "late": False,
                "anonymous": contact is None,
                "consent_at": received if contact else None,
                "contact_name": contact[0] if contact else None,
                "contact_phone": contact[1] if contact else None,
                "hold_reason": "验证码服务不可用" if status == "held" else None,
                "ack_due_on": self._due(day, target.ack_days),
                "reply_due_on": self._due(day, target.reply_days),
                "message_id": message_id,
                "channel_details": {"duration_min": rng.randint(2, 30)}
                if channel == "phone"
                else None,
                "created_at": received,
                "updated_at": received,
            }
        )
        if message_id:
            self._mail(out, sid, target, message_id, subject, body, received)
        self._links(out, sid, channel, received, target.finding_ids[topic])
        extra = self._history(out, sid, status, received)
        if rng.random() < 0.05:
            at = min(self.now, received + timedelta(days=rng.randint(1, 20)))
            follow = "补充一下：" + rng.choice(TOPICS) + "。"
            out.follow_ups.append(
                {
                    "id": self._id("follow_ups"),
                    "submission_id": sid,
                    "at": at,
                    "channel": channel,
                    "author": "submitter",
                    "body": follow,
                }
            )
            extra.append(follow)
        out.search.append({"submission_id": sid, "text": search.build_text(subject, body, extra)})

    def _mail(
        self,
        out: Batch,
        sid: int,
        target: Target,
        message_id: str,
        subject: str | None,
        body: str,
        received: datetime,
    ) -> None:
        """The inbound mail an email submission was recorded from, in its office."""
        raw = mail_raw(message_id, subject, body, received)
        out.mail.append(
            {
                "id": self._id("mail_messages"),
                "message_id": message_id,
                "dedupe_key": message_id,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "raw": raw,
                "size": len(raw),
                "source": "imap",
                "outcome": "recorded",
                "code": out.submissions[-1]["code"],
                "office_id": target.office_id,
                "submission_id": sid,
                "subject": subject,
                "received_at": received,
                "release_state": "none",
            }
        )

    def _contact(self, channel: str) -> tuple[str, str] | None:
        # Few seeded rows carry (encrypted) personal data: encryption is the slow part.
        if channel in ("letter", "phone", "visit") and self.rng.random() < 0.1:
            phone = f"13{self.rng.randrange(10**9):09d}"
            return self.rng.choice(NAMES), phone
        return None

    def _links(
        self, out: Batch, sid: int, channel: str, received: datetime, finding_ids: Sequence[int]
    ) -> None:
        """Most comments get their topic's finding(s): chosen by the submitter on the web form,
        else a suggestion staff confirmed ("suggested" + confirmed: counted in the ledger but,
        unlike "staff" links, not fed back to routing as learned examples)."""
        if not finding_ids or self.rng.random() < 0.25:
            return
        count = 2 if self.rng.random() < 0.15 else 1
        for finding_id in finding_ids[:count]:
            by_submitter = channel == "web"
            out.links.append(
                {
                    "id": self._id("submission_findings"),
                    "submission_id": sid,
                    "finding_id": finding_id,
                    "source": "submitter" if by_submitter else "suggested",
                    "confirmed": not by_submitter,
                    "at": received,
                    "by": None if by_submitter else "seed",
                }
            )

    def _history(self, out: Batch, sid: int, status: str, received: datetime) -> list[str]:
        """Status changes along the path to ``status``; a reply when it passes "replied"."""
        texts: list[str] = []
        old, at = "received", received
        for new in PATHS[status]:
            at = min(self.now, at + timedelta(hours=self.rng.randint(2, 24 * 12)))
            out.changes.append(
                {
                    "id": self._id("status_changes"),
                    "submission_id": sid,
                    "old": old,
                    "new": new,
                    "reason": REASONS.get(new),
                    "actor": "seed",
                    "at": at,
                }
            )
            if new == "replied":
                body = self.rng.choice(REPLIES)
                out.replies.append(
                    {
                        "id": self._id("replies"),
                        "submission_id": sid,
                        "body": body,
                        "author_name": "工作人员",
                        "channel": "track",
                        "created_at": at,
                        "public_requested": False,
                        "public_state": "none",
                    }
                )
                texts.append(body)
            old = new
        return texts
