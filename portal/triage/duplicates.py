"""Near-duplicate submissions and mass-comment campaigns (pure logic, no Flask).

Texts are normalised (NFKC, lower case, punctuation and white space removed) and cut into
character 3-gram shingles; two texts are near-duplicates when the Jaccard similarity of their
shingle sets is high. Candidates are bounded (recent submissions of one notice of one office),
so we compute the exact Jaccard that MinHash would only estimate. Very short texts have too few
shingles to compare; rapidfuzz's normalised Indel similarity is used for them.

A campaign is the same template sent by many people with small changes (a name, a street): a
submission with at least CAMPAIGN_MIN_SIZE - 1 near-duplicates belongs to one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, TypeVar

from rapidfuzz.distance import Indel

if TYPE_CHECKING:
    from portal.intake.models import Submission

NEAR_DUPLICATE = 0.6  # Jaccard of 3-gram shingles at or above this: near-duplicate
CAMPAIGN_MIN_SIZE = 3
SHINGLE = 3
SHORT_TEXT = 12  # fewer normalised characters than this: compare with rapidfuzz
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
    """Similarity in [0, 1] of two texts after normalisation."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    if min(len(na), len(nb)) < SHORT_TEXT:
        return float(Indel.normalized_similarity(na, nb))
    return jaccard(shingles(na), shingles(nb))


def find_similar(
    text: str,
    candidates: Iterable[tuple[K, str]],
    threshold: float = NEAR_DUPLICATE,
) -> list[tuple[K, float]]:
    """Candidates whose similarity to ``text`` is >= threshold, most similar first."""
    found = []
    for key, other in candidates:
        score = similarity(text, other)
        if score >= threshold:
            found.append((key, round(score, 3)))
    found.sort(key=lambda item: -item[1])
    return found


# --- against the database (imports lazily: the rules above stay pure) ----------------------------

RECENT_WINDOW = 500  # how many recent submissions of the notice are compared


def find_near_duplicates(
    submission: Submission, threshold: float = NEAR_DUPLICATE, window: int = RECENT_WINDOW
) -> list[tuple[str, float]]:
    """(code, similarity) of recent submissions of the same notice and office that look like
    this one: another office's submissions are never compared, let alone named."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.intake.models import Submission

    query = (
        select(Submission.code, Submission.subject, Submission.body)
        .where(Submission.id != submission.id)
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .limit(window)
    )
    if submission.notice_id is None:
        query = query.where(Submission.notice_id.is_(None))
    else:
        query = query.where(Submission.notice_id == submission.notice_id)
    if submission.office_id is None:
        query = query.where(Submission.office_id.is_(None))
    else:
        query = query.where(Submission.office_id == submission.office_id)
    own = _joined(submission.subject, submission.body)
    rows = db.session.execute(query)
    return find_similar(own, ((r.code, _joined(r.subject, r.body)) for r in rows), threshold)


def _joined(subject: str | None, body: str | None) -> str:
    return f"{subject or ''}\n{body or ''}"
