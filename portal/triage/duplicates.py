"""Similar opinions: copies, mass-comment campaigns and rewordings of one matter (pure logic
above the database part at the end, which imports lazily).

Two ways for opinions to be similar:

* a copy: texts normalised (NFKC, lower case, punctuation and white space removed) and cut into
  character 3-gram shingles; the Jaccard similarity of the shingle sets is high. Very short texts
  have too few shingles; rapidfuzz's normalised Indel similarity is used for them.
* the same matter in other words: "XX路口的公车天天停在饭店门口" and "看到单位的车周末停在酒楼
  外面，XX路口那家". Both name one thing inspectors look at (a concept of the router's domain
  vocabulary, here 公务用车) and one specific place or object (a marker: XX路, a restaurant), and
  were sent close in time. The same finding about another place is another matter.

A campaign is the same template, or the same matter, sent by many people: a submission with at
least CAMPAIGN_MIN_SIZE - 1 similar opinions belongs to one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar

from rapidfuzz.distance import Indel

from portal.triage.concepts import load_concepts
from portal.triage.normalise import normalise as router_normalise

if TYPE_CHECKING:
    from portal.intake.models import Submission

NEAR_DUPLICATE = 0.6  # similarity at or above this: similar (copy or same matter)
CAMPAIGN_MIN_SIZE = 3
SHINGLE = 3
SHORT_TEXT = 12  # fewer normalised characters than this: compare with rapidfuzz
SAME_MATTER_WINDOW = timedelta(days=7)  # rewordings of one matter arrive close together
_STRIP = re.compile(r"[\W_]+", re.UNICODE)

K = TypeVar("K", bound=Hashable)


def normalise(text: str) -> str:
    """NFKC, lower case, no punctuation or white space: 'ＡＢ，c d' -> 'abcd'."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", text or "").lower())


def shingles(text: str, size: int = SHINGLE) -> frozenset[str]:
    norm = normalise(text)
    if len(norm) <= size:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + size] for i in range(len(norm) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def similarity(a: str, b: str) -> float:
    """Copy similarity in [0, 1] of two texts after normalisation."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    if min(len(na), len(nb)) < SHORT_TEXT:
        return float(Indel.normalized_similarity(na, nb))
    return jaccard(shingles(na), shingles(nb))


# --- what an opinion is about: concepts and markers ----------------------------------------------


def concept_label(key: str) -> str:
    try:
        return load_concepts().label(key)
    except KeyError:
        return key


@lru_cache(maxsize=20_000)
def concepts_in(folded: str) -> frozenset[str]:
    """Keys of the router's domain concepts (and other bodies) a normalised text names.
    About a millisecond a text: read only for opinions that already share a marker."""
    return frozenset(hit.key for hit in load_concepts().hits(folded))


# A place: up to two characters of its name before a place word (人民路, 东城街道 -> 东城街, XX村).
_PLACE = re.compile(
    r"([a-z0-9\u4e00-\u9fff]{1,2})(路|街|大道|巷|村|小区|社区|花园|广场|大厦|公园|市场|码头|桥|镇)"
)
# Named bodies and units: 城管队, 规划科, 某某公司.
_BODY = re.compile(r"([\u4e00-\u9fff]{2})(局|所|科|队|站|中心|公司|厂|酒店|医院|学校|中学|小学)")
# Kinds of object citizens point at, whatever word they use.
_OBJECTS = {
    "饭店": "餐馆",
    "酒楼": "餐馆",
    "酒店": "餐馆",
    "餐厅": "餐馆",
    "饭馆": "餐馆",
    "大排档": "餐馆",
    "农家乐": "餐馆",
    "会所": "会所",
    "ktv": "娱乐场所",
    "卡拉ok": "娱乐场所",
    "夜总会": "娱乐场所",
    "高尔夫": "高尔夫",
    "食堂": "食堂",
    "饭堂": "食堂",
    "停车场": "停车场",
    "车库": "停车场",
}
_OBJECT_RE = re.compile("|".join(sorted(map(re.escape, _OBJECTS), key=len, reverse=True)))
# Licence plates and figures of three digits or more (room numbers, sums, lot numbers).
_PLATE = re.compile(r"[\u4e00-\u9fff][a-z][·.]?[a-z0-9]{5,6}")
_NUMBER = re.compile(r"(?<!\d)(?!(?:19|20)\d\d(?!\d))\d{3,}")  # not a year: 2024 says nothing
_FILLER = frozenset("在到去住的了是那这个家从往")


def markers_in(folded: str) -> frozenset[str]:
    """The specific places, bodies, objects and figures a text (folded by the router's
    normalise, punctuation kept so a name never spans two sentences) names."""
    found = set()
    for match in _PLACE.finditer(folded):
        name = match.group(1).lstrip("".join(_FILLER))
        if name:
            found.add("地:" + name + match.group(2)[0])
    for match in _BODY.finditer(folded):
        if not set(match.group(1)) & _FILLER:
            found.add("单位:" + match.group(1) + match.group(2))
    found.update("物:" + _OBJECTS[m.group(0)] for m in _OBJECT_RE.finditer(folded))
    found.update("号:" + m.group(0) for m in _PLATE.finditer(folded))
    found.update("数:" + m.group(0) for m in _NUMBER.finditer(folded))
    return frozenset(found)


# Kinds of marker that name one specific thing: two opinions naming different ones of a kind
# (人民路 and 西湖路, 税务所 and 社保局, two plates) are about different matters.
SPECIFIC = ("地", "单位", "号", "数")
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
# Bigrams too common in complaints to say what one is about.
_COMMON_TEXT = """
    领导 单位 门口 晚上 周末 每天 天天 一直 没有 问题 情况 反映 希望 请问 我们 他们 经常
    看到 听说 那家 这个 那个 一个 还是 就是 已经 现在 时候 工作 人员 群众 干部 大家 有人
    知道 什么 怎么 为什么 不是 可以 到底 整改 严重 非常 真的 肯定 一下 所以 因为 但是"""
_COMMON_BIGRAMS = frozenset(_COMMON_TEXT.split())


class Matter:
    """What similarity reads of one opinion. The text's shape (for copies) is computed at once;
    what it is about (markers, topic words, concepts) only when first asked, since copies are
    compared over more opinions than rewordings are."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.norm = normalise(text)
        self.shingles = shingles(self.norm)

    @cached_property
    def folded(self) -> str:
        """The router's normal form (traditional, Cantonese, full-width folded)."""
        return router_normalise(self.text)

    @cached_property
    def markers(self) -> frozenset[str]:
        return markers_in(self.folded)

    @cached_property
    def words(self) -> frozenset[str]:
        """Content bigrams outside the markers: the topic when no concept names it."""
        names = "".join(m.split(":", 1)[1] for m in self.markers)
        return frozenset(
            w
            for w in _CJK_PAIR.findall(self.folded)
            if w not in _COMMON_BIGRAMS and w[0] not in names and w[1] not in names
        )

    @property
    def concepts(self) -> frozenset[str]:
        return concepts_in(self.folded)


@lru_cache(maxsize=20_000)
def matter_of(text: str) -> Matter:
    return Matter(text or "")


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _copy_score(a: Matter, b: Matter) -> float:
    if not a.norm or not b.norm:
        return 0.0
    if min(len(a.norm), len(b.norm)) < SHORT_TEXT:
        # A short text is mostly its names: 长安镇派出所… and 虎门镇派出所… are two matters.
        if _conflict(a.markers, b.markers):
            return 0.0
        return float(Indel.normalized_similarity(a.norm, b.norm))
    return jaccard(a.shingles, b.shingles)


def _of_kind(markers: frozenset[str], kind: str) -> frozenset[str]:
    return frozenset(m for m in markers if m.startswith(kind + ":"))


def _conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both name a specific thing of one kind, and never the same one."""
    for kind in SPECIFIC:
        mine, theirs = _of_kind(a, kind), _of_kind(b, kind)
        if mine and theirs and not mine & theirs:
            return True
    return False


def _matter_score(a: Matter, b: Matter, apart: timedelta | None) -> float:
    """One topic (a shared concept, else shared content words) and one marker, no conflicting
    marker, close in time: 0.6 and up; else 0."""
    if apart is not None and abs(apart) > SAME_MATTER_WINDOW:
        return 0.0
    markers = _overlap(a.markers, b.markers)
    if not markers or _conflict(a.markers, b.markers):
        return 0.0
    topic = _overlap(a.concepts, b.concepts)
    topic = topic or 0.5 * _overlap(a.words, b.words)
    if not topic:
        return 0.0
    return 0.6 + 0.2 * topic + 0.2 * markers


@dataclass(frozen=True)
class Similar(Generic[K]):
    """A similar opinion: its key, the score, and why (shared concepts and markers)."""

    key: K
    score: float
    copy: bool  # near-identical text (else: the same matter in other words)
    shared: tuple[str, ...] = ()


def compare(a: Matter, b: Matter, apart: timedelta | None = None) -> tuple[float, bool]:
    """(score in [0, 1], whether it is a copy) for two opinions ``apart`` in time."""
    copy = _copy_score(a, b)
    matter = _matter_score(a, b, apart)
    return (copy, True) if copy >= matter else (matter, False)


def shared_words(a: Matter, b: Matter) -> tuple[str, ...]:
    """What two opinions share, for staff: concept labels, then markers without their kind."""
    labels = sorted(concept_label(c) for c in a.concepts & b.concepts)
    return (*labels, *sorted(m.split(":", 1)[1] for m in a.markers & b.markers))


def find_similar(
    text: str,
    candidates: Iterable[tuple[K, str]] | Iterable[tuple[K, str, datetime | None]],
    threshold: float = NEAR_DUPLICATE,
    at: datetime | None = None,
) -> list[Similar[K]]:
    """Candidates (key, text[, received at]) similar to ``text`` (received ``at``), most
    similar first."""
    own = matter_of(text)
    found = []
    for key, other, *when in candidates:
        theirs = matter_of(other)
        apart = (when[0] - at) if (at is not None and when and when[0] is not None) else None
        score, copy = compare(own, theirs, apart)
        if score >= threshold:
            found.append(
                Similar(key, round(score, 3), copy, () if copy else shared_words(own, theirs))
            )
    found.sort(key=lambda s: -s.score)
    return found


# --- against the database (imports lazily: the rules above stay pure) ----------------------------

RECENT_WINDOW = 500  # how many recent submissions of the notice are compared for copies
MATTER_LIMIT = 3000  # at most this many submissions within the time window are compared


def find_near_duplicates(
    submission: Submission, threshold: float = NEAR_DUPLICATE, window: int = RECENT_WINDOW
) -> list[Similar[str]]:
    """Similar submissions (by code) of the same notice and office: the most recent ones, and
    every one received within SAME_MATTER_WINDOW of this one. Another office's submissions are
    never compared, let alone named."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission
    from portal.workdays import as_utc

    query = select(Submission.code, Submission.subject, Submission.body, Submission.received_at)
    query = query.where(Submission.id != submission.id)
    if submission.notice_id is None:
        query = query.where(Submission.notice_id.is_(None))
    else:
        query = query.where(Submission.notice_id == submission.notice_id)
    if submission.office_id is None:
        query = query.where(Submission.office_id.is_(None))
    else:
        query = query.where(Submission.office_id == submission.office_id)
    order = (Submission.received_at.desc(), Submission.id.desc())
    at = as_utc(submission.received_at)
    near_in_time = query.where(
        Submission.received_at >= at - SAME_MATTER_WINDOW,
        Submission.received_at <= at + SAME_MATTER_WINDOW,
    )
    rows = {r.code: r for r in db.session.execute(query.order_by(*order).limit(window))}
    rows.update(
        {r.code: r for r in db.session.execute(near_in_time.order_by(*order).limit(MATTER_LIMIT))}
    )
    own = _joined(submission.subject, submission.body)
    return find_similar(
        own,
        ((r.code, _joined(r.subject, r.body), as_utc(r.received_at)) for r in rows.values()),
        threshold,
        at=at,
    )


def _joined(subject: str | None, body: str | None) -> str:
    return f"{subject or ''}\n{body or ''}"


PANEL_SIZE = 20  # similar opinions listed on the detail page
CANDIDATES = 20  # search results in the merge picker


def similar_with_rows(
    submission: Submission, limit: int = PANEL_SIZE
) -> tuple[list[tuple[Similar[str], Submission]], int]:
    """The most similar opinions with their rows (for the panel), and how many there are."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission

    found = find_near_duplicates(submission)
    shown = found[:limit]
    rows = {
        row.code: row
        for row in db.session.scalars(
            select(Submission).where(Submission.code.in_([s.key for s in shown]))
        )
    }
    return [(s, rows[s.key]) for s in shown if s.key in rows], len(found)


def relation(submission: Submission, original: Submission) -> Similar[str]:
    """How ``submission`` relates to ``original``: the score the merge records, whether it is
    a copy and what the two share (score below NEAR_DUPLICATE: not similar)."""
    from portal.workdays import as_utc

    own = matter_of(_joined(submission.subject, submission.body))
    theirs = matter_of(_joined(original.subject, original.body))
    apart = as_utc(original.received_at) - as_utc(submission.received_at)
    score, copy = compare(own, theirs, apart)
    return Similar(original.code, round(score, 3), copy, () if copy else shared_words(own, theirs))


def merge_candidates(
    submission: Submission, query: str, limit: int = CANDIDATES
) -> list[Submission]:
    """Submissions of the same office a person looked for by receipt code or by words of
    their text, newest first; never this one, never another office's."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake import receipts
    from portal.intake.models import Submission
    from portal.triage.search import search_condition

    base = select(Submission).where(Submission.id != submission.id)
    if submission.office_id is None:
        base = base.where(Submission.office_id.is_(None))
    else:
        base = base.where(Submission.office_id == submission.office_id)
    chars = receipts.normalise_code(query)
    if chars is not None:
        code = receipts.format_code(chars)
        return list(db.session.scalars(base.where(Submission.code == code)))
    condition = search_condition(query, db.session.get_bind().dialect.name)
    if condition is None:
        return []
    order = (Submission.received_at.desc(), Submission.id.desc())
    return list(db.session.scalars(base.where(condition).order_by(*order).limit(limit)))
