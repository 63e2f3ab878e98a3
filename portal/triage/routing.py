"""Finding suggestions: which numbered findings of a notice a submission concerns.

Works cold on any notice: BM25 over each finding's text (category, title, description, measures)
on jieba words plus character bigrams, after expanding the submission's everyday words with the
lexicon (lexicon.txt), plus the concepts of the 巡察 vocabulary (data/concepts.toml) that the
comment and the finding share. Raw scores are calibrated per notice: each notice's scale is how
strongly its own finding titles match their findings, so one threshold holds across notices.
A complaint about another body (hospital, traffic police, neighbour...) gets a referral instead of
a finding. Staff-confirmed links (`Router.learn`) teach the finding the words and concepts of the
confirmed text, and near-copies of it. Pure logic: no Flask import.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from portal.triage.concepts import Hit, load_concepts
from portal.triage.normalise import normalise
from portal.triage.routing_text import (
    MAX_QUERY_CHARS,
    LexiconRule,
    expansion_cached,
    load_lexicon,
    query_terms,
    term_weight,
    terms,
    terms_cached,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "FindingDoc",
    "LexiconRule",
    "Referral",
    "Router",
    "Suggestion",
    "load_lexicon",
]

# Chosen on tests/data/routing_dev.jsonl and the other offices' *_dev.jsonl sets
# (bench/routing_accuracy.py --sweep); calibration makes it hold on every notice.
DEFAULT_THRESHOLD = 0.55
STRONG_SCORE = 0.7  # at or above: "strong" (the routing desk's STRONG agrees)

_K1 = 1.2
_B = 0.75
_TITLE_REPEAT = 2  # the finding title is what the finding is about: weigh it up
_EXPANSION_WEIGHT = 1.0  # one fired lexicon rule weighs like one of the citizen's own words
_CONCEPT_WEIGHT = 2.0  # one shared concept weighs like a couple of shared words
_CONCEPT_TITLE = 2.0  # a concept in the finding's title counts this much more than in measures
_SCALE = 6.0  # raw -> [0, 1): score = raw / (raw + scale), scale = _SCALE * notice factor
_REFERENCE_FINDINGS = 19  # the seed notice's findings: the notice the scale was first set on
_EXAMPLE_FLOOR = 0.2  # example cosine below this is chance overlap (0.12 let praise in)
_EXAMPLE_SPAN = 0.45  # cosine at floor + span counts as a certain match
_LEARN_WEIGHT = 0.6  # learned words/concepts: evidence per confirmed feature, bounded below
_LEARN_CAP = 0.8  # x the notice's scale: learned words alone stay under the threshold
_LEARN_SUPPORT = 2  # a word or concept learned from one confirmation alone is anecdote
_WORD_REASONS = 3

# A text that names the office itself is about the office, whoever else it mentions.
_SELF_REFERENCE = re.compile(
    r"你们(?!管|能不能管|给管|帮|快管|倒是管|也不管)"
    r"|贵(?:单位|局|院|校|公司|集团)|本单位|我们单位|单位里|局里的"
)


@dataclass(frozen=True)
class FindingDoc:
    """One finding as routing sees it; text = category + title + description + measures."""

    number: int
    title: str
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A suggested finding; score in [0, 1], >= the router's threshold means relevant.

    `reasons`: what matched, in Chinese for staff ("公车私用 ≈ 公务用车", "“耕地”"), strongest
    first. `strength`: "strong", "medium" (at least the threshold) or "weak".
    """

    number: int
    title: str
    score: float
    reasons: tuple[str, ...] = ()
    strength: str = "weak"


@dataclass(frozen=True)
class Referral:
    """A complaint about another body: pass it on (转办) instead of linking a finding.

    `body_kind` is a stable code (health, traffic_police, neighbour, property, school, court,
    market, labour, tax, city_management, utilities, transport, police); `label` the suggestion
    staff read ("建议转办：卫生健康部门"); `reasons` the words that named the body.
    """

    body_kind: str
    label: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Query:
    norm: str
    own: dict[str, float]  # the citizen's own index terms, weighted
    expansion: tuple[tuple[float, tuple[str, ...]], ...]
    hits: tuple[Hit, ...]


@lru_cache(maxsize=512)
def _analyse(text: str) -> _Query:
    """Everything a router needs of a text. Cached: a round's routers all read the same text."""
    norm = normalise(text[:MAX_QUERY_CHARS])
    own = {t: term_weight(t) for t in query_terms(norm)}
    return _Query(norm, own, expansion_cached(norm), load_concepts().hits(norm))


def _concept_reason(hit: Hit) -> str:
    label = load_concepts().label(hit.key)
    return label if hit.form == label else f"{hit.form} ≈ {label}"


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(w * large.get(t, 0.0) for t, w in small.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def _idf(df: int, n: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


class Router:
    """Ranks a notice's findings for a submission text; build once per notice.

    `owner` is optional text about the notice's office (its name, the notice title): a body it
    names is the office's own business, never a referral.
    """

    def __init__(
        self,
        findings: Sequence[FindingDoc],
        examples: Mapping[int, Sequence[str]] | None = None,
        threshold: float | None = None,
        owner: str = "",
    ) -> None:
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self._findings = {f.number: f for f in findings}
        self._numbers = list(self._findings)
        self._docs = [self._doc_terms(f) for f in findings]
        self._doc_len = [sum(d.values()) for d in self._docs]
        self._avg_len = (sum(self._doc_len) / len(self._docs)) if self._docs else 1.0
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: _idf(c, n) for t, c in df.items()}
        self._top_idf = _idf(0, n) if n else 1.0
        self._postings = self._compute_postings()
        self._notice_term_scores: dict[str, list[float]] = {}
        self._concepts = [self._doc_concepts(f) for f in findings]
        cdf: Counter[str] = Counter(c for doc in self._concepts for c in doc)
        self._concept_idf = {c: _idf(k, n) for c, k in cdf.items()}
        own_text = normalise(owner) + "\n" + "\n".join(normalise(f.text) for f in findings)
        self._own_bodies = load_concepts().own_bodies(own_text)
        self._examples: dict[int, list[dict[str, float]]] = {k: [] for k in self._numbers}
        self._learned: dict[int, Counter[str]] = {k: Counter() for k in self._numbers}
        self._learned_total: Counter[str] = Counter()
        factor = self._calibration()
        self._scale = _SCALE * factor
        # Concepts are most of the evidence a small notice has: they weigh more there.
        self._concept_weight = _CONCEPT_WEIGHT / factor
        for number, texts in (examples or {}).items():
            for text in texts:
                self.learn(number, text)

    # --- building -------------------------------------------------------------------------

    @staticmethod
    def _doc_terms(finding: FindingDoc) -> Counter[str]:
        bag = terms(finding.text)
        for term, count in terms(finding.title).items():
            bag[term] += count * (_TITLE_REPEAT - 1)
        return bag

    @staticmethod
    def _doc_concepts(finding: FindingDoc) -> dict[str, float]:
        found = load_concepts()
        weights = {h.key: 1.0 for h in found.hits(normalise(finding.text))}
        for hit in found.hits(normalise(finding.title)):
            weights[hit.key] = _CONCEPT_TITLE
        # A body named in a finding is the office's own business: citizens naming it (停水 to a
        # water company) point at that finding like any concept.
        return weights

    def _compute_postings(self) -> dict[str, list[tuple[int, float]]]:
        """term -> [(finding index, BM25 contribution)]: query-independent, built once."""
        postings: dict[str, list[tuple[int, float]]] = {}
        for i, (doc, length) in enumerate(zip(self._docs, self._doc_len, strict=True)):
            norm = _K1 * (1 - _B + _B * length / self._avg_len)
            for term, tf in doc.items():
                score = self._idf[term] * tf * (_K1 + 1) / (tf + norm)
                postings.setdefault(term, []).append((i, score))
        return postings

    def _calibration(self) -> float:
        """How much one piece of evidence can weigh in this notice, relative to the seed's: a
        word or concept unique to one finding has idf log(1 + (n - 0.5) / 1.5), which grows with
        the number n of findings; the scale grows with it, so one threshold holds everywhere."""
        if len(self._numbers) < 2:
            return 1.0
        return _idf(1, len(self._numbers)) / _idf(1, _REFERENCE_FINDINGS)

    # --- scoring --------------------------------------------------------------------------

    def _bag_scores(self, bag: Mapping[str, float]) -> list[float]:
        scores = [0.0] * len(self._docs)
        for term, weight in bag.items():
            for i, contribution in self._postings.get(term, ()):
                scores[i] += weight * contribution
        return scores

    def _notice_term(self, term: str) -> list[float]:
        cached = self._notice_term_scores.get(term)
        if cached is None:
            bag = {t: term_weight(t) for t in terms_cached(term)}
            cached = self._notice_term_scores[term] = self._bag_scores(bag)
        return cached

    def _concept_scores(self, query: _Query) -> list[float]:
        scores = [0.0] * len(self._docs)
        for hit in query.hits:
            idf = self._concept_idf.get(hit.key)
            if idf is None:
                continue
            for i, doc in enumerate(self._concepts):
                scores[i] += self._concept_weight * idf * doc.get(hit.key, 0.0)
        return scores

    def _raw(self, query: _Query, concepts: bool = True) -> list[float]:
        scores = self._bag_scores(query.own)
        # A fired rule is one piece of evidence: its notice terms are alternatives,
        # so it adds the score of its best-matching term, not the sum of all.
        for strength, rule_terms in query.expansion:
            vectors = [self._notice_term(t) for t in rule_terms]
            for i in range(len(scores)):
                scores[i] += _EXPANSION_WEIGHT * strength * max(v[i] for v in vectors)
        if concepts:
            for i, extra in enumerate(self._concept_scores(query)):
                scores[i] += extra
        return scores

    def _features(self, query: _Query) -> dict[str, float]:
        """What learning remembers of a text: its concepts and its own words, idf-weighted."""
        out = {"c:" + h.key: self._concept_idf.get(h.key, self._top_idf) for h in query.hits}
        for term in query.own:
            if term.startswith("w:"):
                out[term] = self._idf.get(term, self._top_idf)
        return out

    def _learned_scores(self, features: Mapping[str, float]) -> list[float]:
        scores = []
        for number in self._numbers:
            learned = self._learned[number]
            total = sum(
                idf * learned[f] / (self._learned_total[f] + 1.0)
                for f, idf in features.items()
                if learned[f] >= _LEARN_SUPPORT
            )
            scores.append(min(_LEARN_CAP * self._scale, _LEARN_WEIGHT * total))
        return scores

    def _vector(self, query: _Query) -> dict[str, float]:
        # Near-copy similarity uses the citizen's own words only, idf-weighted.
        return {t: w * self._idf.get(t, self._top_idf) for t, w in query.own.items()}

    def _example_score(self, number: int, vector: Mapping[str, float]) -> float:
        best = max((_cosine(vector, ex) for ex in self._examples.get(number, ())), default=0.0)
        return min(1.0, max(0.0, (best - _EXAMPLE_FLOOR) / _EXAMPLE_SPAN))

    def _reasons(self, index: int, query: _Query) -> tuple[str, ...]:
        doc = self._concepts[index]
        shared = [h for h in query.hits if h.key in doc]
        shared.sort(key=lambda h: -doc[h.key] * self._concept_idf.get(h.key, 0.0))
        reasons = [_concept_reason(h) for h in shared]
        words = []
        for term in query.own:
            if term.startswith("w:"):
                for i, contribution in self._postings.get(term, ()):
                    if i == index:
                        words.append((contribution, term[2:]))
        words.sort(reverse=True)
        reasons += [f"“{w}”" for _, w in words[:_WORD_REASONS] if not any(w in r for r in reasons)]
        return tuple(reasons)

    def strength(self, score: float) -> str:
        if score >= max(STRONG_SCORE, self.threshold):
            return "strong"
        return "medium" if score >= self.threshold else "weak"

    def scores(self, text: str, *, concepts: bool = True) -> list[Suggestion]:
        """Every finding with its score, best first (no threshold, no limit, no referral).

        concepts=False leaves out the concept map and the per-notice calibration: words only,
        on one fixed scale. The routing desk compares offices that way, since the concepts
        every notice shares (party building, finances) would make every office look alike.
        """
        if not self._numbers:
            return []
        query = _analyse(text)
        raw = self._raw(query, concepts=concepts)
        scale = self._scale if concepts else _SCALE
        if concepts and any(self._learned_total.values()):
            # Capped under the threshold: learned words alone never make a suggestion.
            for i, extra in enumerate(self._learned_scores(self._features(query))):
                raw[i] += extra
        vector = self._vector(query) if any(self._examples.values()) else {}
        out = []
        for i, (number, r) in enumerate(zip(self._numbers, raw, strict=True)):
            base = r / (r + scale)
            learned = self._example_score(number, vector) if vector else 0.0
            # Probabilistic OR: either signal alone can make a finding relevant.
            score = min(1.0, 1.0 - (1.0 - base) * (1.0 - learned))
            reasons = self._reasons(i, query) if r > 0 else ()
            title = self._findings[number].title
            out.append(Suggestion(number, title, score, reasons, self.strength(score)))
        out.sort(key=lambda s: (-s.score, s.number))
        return out

    def suggest(self, text: str, limit: int = 3) -> list[Suggestion]:
        """Up to `limit` relevant findings, best first; [] when nothing is relevant or the text
        is about another body (see `referral`)."""
        if limit <= 0 or self.referral(text) is not None:
            return []
        return [s for s in self.scores(text)[:limit] if s.score >= self.threshold]

    def referral(self, text: str) -> Referral | None:
        """The other body a complaint is about, when it names one that is not this office's own
        business and does not name the office itself; None otherwise."""
        query = _analyse(text)
        foreign = [
            h for h in query.hits if h.key.startswith("body:") and h.key not in self._own_bodies
        ]
        bodies = load_concepts().bodies
        own = [k for k in self._own_bodies if any(f in query.norm for f in bodies[k[5:]].forms)]
        # Naming the office, or a body that is its own business, makes it the office's matter.
        if not foreign or own or _SELF_REFERENCE.search(query.norm):
            return None
        kind = foreign[0].key
        label = load_concepts().label(kind)
        named = [f for f in load_concepts().bodies[kind[5:]].forms if f in query.norm]
        reasons = tuple(f"{form} → {label}" for form in (named or [foreign[0].form]))
        return Referral(kind[5:], f"建议转办：{label}", reasons)

    def learn(self, number: int, text: str) -> None:
        """Record a staff-confirmed link: the finding learns the text's words and concepts
        (so rewordings score higher) and keeps the text as a near-copy example."""
        if number not in self._findings:
            raise KeyError(f"no finding {number} in this notice")
        query = _analyse(text)
        vector = self._vector(query)
        if vector:
            self._examples[number].append(vector)
        for feature in self._features(query):
            # Words and concepts the notice itself uses are scored cold, finding by finding;
            # learning adds the citizens' vocabulary the notice lacks (测绘, 后生仔...), so a
            # generic word confirmed once cannot tip one finding over another.
            if feature in self._idf or feature[2:] in self._concept_idf:
                continue
            self._learned[number][feature] += 1
            self._learned_total[feature] += 1
