"""Which office a text is about, judged by the findings of every published notice of a round.

Each published notice's Router (findings.router_for, cached per notice version) ranks that
notice's findings; a candidate is one finding of one notice of one office. An office's score is
its best candidate's. The guess is *confident* (route without asking) only when the best office's
score is strong AND ahead of the best candidate of every OTHER office by MARGIN: notices of one
round share whole topics (party building, cadre files, finances), and a text about those is for
the inspection office to route, not for a threshold.

STRONG and MARGIN were chosen on tests/data/office_routing/dev.jsonl (texts about a procuratorate
and a housing bureau, with small notices of three more offices as distractors, and texts about
topics every notice shares): 32 of 42 decisions right, none confidently wrong (none for any
STRONG from 0.6 to 0.9 at this MARGIN; a MARGIN of 0.1 makes two).
tests/data/office_routing/heldout.jsonl was never tuned on: 16 of 22 right, 2 confidently wrong
(housing texts whose everyday words the lexicon maps into the procuratorate's vocabulary);
tests/test_routing_desk.py reports both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.intake.office_routing import OfficeGuess
from portal.notices.models import Notice
from portal.offices.models import Office
from portal.triage.findings import router_for
from portal.triage.routing import DEFAULT_THRESHOLD, Router

STRONG = 0.7  # an office's best score at or above this is strong evidence
MARGIN = 0.2  # ... and must lead every other office's best by this much to be confident
WEAK = 0.35  # below this a candidate is noise: not shown, never a guess
PER_NOTICE = 3  # candidates taken from each notice before merging
ROUNDLESS_NOTICES = 60  # notices asked without a round (the router cache keeps 256)
SCORE_WORDS = {"strong": _l("强"), "medium": _l("中"), "weak": _l("弱")}


@dataclass(frozen=True)
class Candidate:
    """One finding of one notice of one office, with the Router's score for a text."""

    office: Office
    notice: Notice
    number: int
    title: str
    score: float

    @property
    def strength(self) -> str:
        return score_strength(self.score)


def score_strength(score: float) -> str:
    """strong / medium / weak: what staff read instead of a number."""
    if score >= STRONG:
        return "strong"
    if score >= DEFAULT_THRESHOLD:
        return "medium"
    return "weak"


def score_word(score: float) -> str:
    return str(SCORE_WORDS[score_strength(score)])


def round_notices(round_id: int | None = None) -> list[Notice]:
    """Published notices of active offices: of one round, or when None of every round, the
    ROUNDLESS_NOTICES most recently published (a Router costs ~1 MB and up to a second to
    build: years of rounds cannot all be asked at once)."""
    query = (
        select(Notice)
        .join(Office, Office.id == Notice.office_id)
        .where(Notice.state == "published", Office.active.is_(True))
    )
    if round_id is not None:
        return list(
            db.session.scalars(query.where(Notice.round_id == round_id).order_by(Notice.id))
        )
    recent = query.order_by(Notice.published_at.desc().nulls_last(), Notice.id.desc())
    return list(db.session.scalars(recent.limit(ROUNDLESS_NOTICES)))


def routers_of(notices: Sequence[Notice]) -> list[tuple[Notice, Router]]:
    """Each notice with its cached Router: fetch once per request, use for every text."""
    return [(notice, router_for(notice)) for notice in notices]


def candidates(
    text: str,
    routers: Sequence[tuple[Notice, Router]],
    *,
    floor: float | None = WEAK,
    concepts: bool = False,
) -> list[Candidate]:
    """Every notice's best findings for ``text`` scoring at least ``floor`` (None: each
    Router's own threshold, as ``flask triage suggest --notice`` applies it), best first.

    Guessing the office reads words only (concepts=False): the concepts every notice shares
    would blur one office into another. Listing a round's findings may use them."""
    found: list[Candidate] = []
    for notice, router in routers:
        least = router.threshold if floor is None else floor
        for suggestion in router.scores(text, concepts=concepts)[:PER_NOTICE]:
            if suggestion.score < least:
                break
            found.append(
                Candidate(
                    notice.office, notice, suggestion.number, suggestion.title, suggestion.score
                )
            )
    found.sort(key=lambda c: (-c.score, c.office.id, c.notice.id, c.number))
    return found


def best_by_office(found: Sequence[Candidate]) -> list[Candidate]:
    """The best candidate of each office, best first (``found`` is sorted best first)."""
    seen: dict[int, Candidate] = {}
    for candidate in found:
        seen.setdefault(candidate.office.id, candidate)
    return list(seen.values())


def is_confident(best: float, runner_up: float | None) -> bool:
    """Strong, and clearly ahead of the best of any other office (pure; thresholds above)."""
    return best >= STRONG and (runner_up is None or best - runner_up >= MARGIN)


def guess_from(found: Sequence[Candidate]) -> OfficeGuess | None:
    offices = best_by_office(found)
    if not offices:
        return None
    best = offices[0]
    runner_up = offices[1].score if len(offices) > 1 else None
    return OfficeGuess(
        office_id=best.office.id,
        notice_id=best.notice.id,
        score=best.score,
        confident=is_confident(best.score, runner_up),
        candidates=tuple((c.office.id, c.notice.id, c.score) for c in offices),
    )


def guess_office(text: str, round_id: int | None) -> OfficeGuess | None:
    """The guesser triage registers with intake (portal.intake.office_routing)."""
    if not (text or "").strip():
        return None
    return guess_from(candidates(text, routers_of(round_notices(round_id))))
