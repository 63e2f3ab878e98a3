"""Finding suggestions: which numbered findings of a notice a submission concerns.

Works cold: BM25 over each finding's text (category title, finding title, measures) on
jieba words plus character bigrams, after expanding the submission's everyday words into
the notice's vocabulary with a domain lexicon (lexicon.txt). Staff-confirmed links
(`Router.learn`) add example texts per finding; the nearest example's similarity is
blended into the score. Pure logic: no Flask import.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

__all__ = ["DEFAULT_THRESHOLD", "FindingDoc", "Router", "Suggestion", "load_lexicon"]

LEXICON_PATH = Path(__file__).with_name("lexicon.txt")

# Calibrated on tests/data/routing_dev.jsonl (bench/routing_accuracy.py --sweep): the
# middle of the gap between the best out-of-scope scores (<= 0.41, bar two lexicon
# ambiguities) and the lowest correct in-scope scores (>= 0.70); top-1 is flat across it.
DEFAULT_THRESHOLD = 0.55

# BM25 parameters (standard k1, b); values chosen on the dev set, see the bench script.
_K1 = 1.2
_B = 0.75
_TITLE_REPEAT = 2  # the finding title is what the finding is about: weigh it up
_BIGRAM_WEIGHT = 0.5  # bigrams catch words jieba splits differently; words are cleaner
_EXPANSION_WEIGHT = 1.0  # one fired lexicon rule weighs like one of the citizen's own words
_HITS_EXPONENT = 0.75  # several citizen words of one rule: stronger, sublinear evidence
_SCALE = 6.0  # raw BM25 -> [0, 1): score = raw / (raw + _SCALE)
_EXAMPLE_FLOOR = 0.12  # example cosine below this is chance overlap
_EXAMPLE_SPAN = 0.45  # cosine at floor + span counts as a certain match
_MAX_QUERY_CHARS = 1000  # long texts: the opening says what it is about; bounds suggest()
_MAX_JIEBA_CHARS = 300  # of which jieba segments this much (it dominates suggest() time)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD_OK = re.compile(f"^(?:[{_CJK}]{{2,}}|[a-z0-9]{{2,}})$")

# Function words and words every notice of this kind uses everywhere; they carry no
# signal about which finding a comment concerns.
_STOPWORD_TEXT = """
    我们 你们 他们 她们 它们 自己 这个 那个 这些 那些 这样 那样 什么 怎么 怎样 为什么
    有没有 是不是 能不能 会不会 可不可以 是否 还是 就是 还有 已经 一直 现在 时候 到底
    一下 一个 一些 没有 不是 可以 应该 需要 如何 哪些 哪里 多少 知道 听说 觉得 希望
    请问 问题 情况 工作 相关 有关 进一步 加强 完善 规范 严格 落实 推进 提升 开展 建立
    健全 制定 持续 不断 积极 切实 全面 深入 充分 及时 确保 实现 方面 针对 问题整改
    整改 检察院 检察 检察机关 市检察院 人民检察院 单位 领导 我家 大家
    具体 真正 根本 其实 而且 但是 因为 所以 如果 然后 结果 以后 以前 之后 之前 今年
    去年 明年 每年 一年 能否 怎么样 到位 不到 不够 存在 不足 有待 提高
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_STOP_BIGRAMS = frozenset({"检察", "察院", "察机", "机关", "工作", "问题", "情况", "落实"})


@dataclass(frozen=True)
class FindingDoc:
    """One finding as routing sees it; text = category title + finding title + measures."""

    number: int
    title: str
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A suggested finding; score in [0, 1], >= the router's threshold means relevant."""

    number: int
    title: str
    score: float


@dataclass(frozen=True)
class LexiconRule:
    citizen_words: tuple[str, ...]
    notice_terms: tuple[str, ...]


_jieba_lock = threading.Lock()
_jieba_tokenizer: jieba.Tokenizer | None = None


def _tokenizer() -> jieba.Tokenizer:
    """A private jieba instance (global jieba state belongs to nobody), loaded once, quietly."""
    global _jieba_tokenizer
    if _jieba_tokenizer is None:
        with _jieba_lock:
            if _jieba_tokenizer is None:
                import jieba as jieba_module

                jieba_module.setLogLevel(logging.WARNING)
                logging.getLogger("jieba").setLevel(logging.WARNING)
                tok = jieba_module.Tokenizer()
                tok.initialize()
                for rule in load_lexicon():
                    for term in (*rule.notice_terms, *rule.citizen_words):
                        if len(term) >= 2:
                            tok.add_word(term, freq=2000)
                _jieba_tokenizer = tok
    return _jieba_tokenizer


def _parse_lexicon(lines: Iterable[str]) -> tuple[LexiconRule, ...]:
    rules = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#") or "\t" not in line:
            continue
        citizen, notice = line.split("\t", 1)
        words = tuple(dict.fromkeys(_normalise(w) for w in citizen.split() if w))
        terms = tuple(dict.fromkeys(_normalise(t) for t in notice.split() if t))
        if words and terms:
            rules.append(LexiconRule(words, terms))
    return tuple(rules)


@lru_cache(maxsize=1)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[LexiconRule, ...]:
    """The domain lexicon, parsed once per process."""
    return _parse_lexicon(path.read_text(encoding="utf-8").splitlines())


def _normalise(text: str) -> str:
    # NFKC folds full-width letters and digits, so "Ｕ盘" matches "u盘".
    return unicodedata.normalize("NFKC", text).lower()


def _bigrams(text: str) -> Iterable[str]:
    for run in _CJK_RUN.findall(text):
        for i in range(len(run) - 1):
            gram = run[i : i + 2]
            if gram not in _STOP_BIGRAMS:
                yield gram


def _terms(text: str, jieba_chars: int | None = None) -> Counter[str]:
    """Weighted bag of index terms: jieba words ("w:") and CJK bigrams ("b:").

    `jieba_chars` bounds the segmented prefix: jieba costs ~15 us a character, bigrams
    and lexicon matching cover the rest of a long submission cheaply.
    """
    norm = _normalise(text)
    bag: Counter[str] = Counter()
    for word in _tokenizer().cut_for_search(norm[:jieba_chars], HMM=False):
        if _WORD_OK.match(word) and word not in _STOPWORDS:
            bag["w:" + word] += 1
    for gram in _bigrams(norm):
        bag["b:" + gram] += 1
    return bag


def _term_weight(term: str) -> float:
    return _BIGRAM_WEIGHT if term.startswith("b:") else 1.0


def _occurs(word: str, text: str) -> bool:
    """Substring match; ASCII words must stand alone ("12345" is not in "123456")."""
    if not word.isascii():
        return word in text
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) is not None


def _expansion(
    text: str, rules: Sequence[LexiconRule]
) -> tuple[tuple[float, tuple[str, ...]], ...]:
    """Rules the comment's everyday words fire, as (evidence strength, notice terms).

    A rule matched by several distinct citizen words is stronger evidence than one
    matched by a single (possibly ambiguous) word: hits ** _HITS_EXPONENT.
    """
    fired = []
    for rule in rules:
        hits = sum(1 for word in rule.citizen_words if _occurs(word, text))
        if hits:
            fired.append((hits**_HITS_EXPONENT, rule.notice_terms))
    return tuple(fired)


@lru_cache(maxsize=2048)
def _terms_cached(text: str) -> Counter[str]:
    return _terms(text)


@lru_cache(maxsize=256)
def _query_terms(norm: str) -> Counter[str]:
    """A submission's own terms. Cached: a round's routers (one per notice) all read the same
    text, and jieba is most of the cost. Callers must not change the Counter."""
    return _terms(norm, _MAX_JIEBA_CHARS)


@lru_cache(maxsize=1024)
def _expansion_cached(text: str) -> tuple[tuple[float, tuple[str, ...]], ...]:
    return _expansion(text, load_lexicon())


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(w * large.get(t, 0.0) for t, w in small.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


class Router:
    """Ranks a notice's findings for a submission text; build once per notice."""

    def __init__(
        self,
        findings: Sequence[FindingDoc],
        examples: Mapping[int, Sequence[str]] | None = None,
        threshold: float | None = None,
    ) -> None:
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self._findings = {f.number: f for f in findings}
        self._numbers = list(self._findings)
        self._docs = [self._doc_terms(f) for f in findings]
        self._doc_len = [sum(d.values()) for d in self._docs]
        self._avg_len = (sum(self._doc_len) / len(self._docs)) if self._docs else 1.0
        self._idf = self._compute_idf(self._docs)
        self._postings = self._compute_postings()
        self._notice_term_scores: dict[str, list[float]] = {}
        self._examples: dict[int, list[dict[str, float]]] = {n: [] for n in self._numbers}
        for number, texts in (examples or {}).items():
            for text in texts:
                self.learn(number, text)

    @staticmethod
    def _doc_terms(finding: FindingDoc) -> Counter[str]:
        bag = _terms(finding.text)
        title = _terms(finding.title)
        for term, count in title.items():
            bag[term] += count * (_TITLE_REPEAT - 1)
        return bag

    @staticmethod
    def _compute_idf(docs: Sequence[Counter[str]]) -> dict[str, float]:
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        n = len(docs)
        return {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def _compute_postings(self) -> dict[str, list[tuple[int, float]]]:
        """term -> [(finding index, BM25 contribution)]: query-independent, built once."""
        postings: dict[str, list[tuple[int, float]]] = {}
        for i, (doc, length) in enumerate(zip(self._docs, self._doc_len, strict=True)):
            norm = _K1 * (1 - _B + _B * length / self._avg_len)
            for term, tf in doc.items():
                score = self._idf[term] * tf * (_K1 + 1) / (tf + norm)
                postings.setdefault(term, []).append((i, score))
        return postings

    def _bag_scores(self, bag: Mapping[str, float]) -> list[float]:
        scores = [0.0] * len(self._docs)
        for term, weight in bag.items():
            for i, contribution in self._postings.get(term, ()):
                scores[i] += weight * contribution
        return scores

    def _notice_term(self, term: str) -> list[float]:
        cached = self._notice_term_scores.get(term)
        if cached is None:
            bag = {t: _term_weight(t) for t in _terms_cached(term)}
            cached = self._notice_term_scores[term] = self._bag_scores(bag)
        return cached

    def _bm25(self, text: str) -> list[float]:
        norm = _normalise(text[:_MAX_QUERY_CHARS])
        own = {t: _term_weight(t) for t in _query_terms(norm)}
        scores = self._bag_scores(own)
        # A fired rule is one piece of evidence: its notice terms are alternatives,
        # so it adds the score of its best-matching term, not the sum of all.
        for strength, terms in _expansion_cached(norm):
            vectors = [self._notice_term(t) for t in terms]
            for i in range(len(scores)):
                scores[i] += _EXPANSION_WEIGHT * strength * max(v[i] for v in vectors)
        return scores

    def _vector(self, text: str) -> dict[str, float]:
        # Example similarity uses the citizen's own words only (no lexicon expansion),
        # weighted by idf so shared notice boilerplate counts for little.
        top_idf = math.log(1.0 + (len(self._docs) + 0.5) / 0.5) if self._docs else 1.0
        bag = _query_terms(_normalise(text[:_MAX_QUERY_CHARS]))
        return {t: c * _term_weight(t) * self._idf.get(t, top_idf) for t, c in bag.items()}

    def _example_score(self, number: int, vector: Mapping[str, float]) -> float:
        best = max((_cosine(vector, ex) for ex in self._examples.get(number, ())), default=0.0)
        return min(1.0, max(0.0, (best - _EXAMPLE_FLOOR) / _EXAMPLE_SPAN))

    def scores(self, text: str) -> list[Suggestion]:
        """Every finding with its score, best first (no threshold, no limit)."""
        if not self._numbers:
            return []
        raw = self._bm25(text)
        vector = self._vector(text) if any(self._examples.values()) else {}
        out = []
        for number, r in zip(self._numbers, raw, strict=True):
            base = r / (r + _SCALE)
            learned = self._example_score(number, vector) if vector else 0.0
            # Probabilistic OR: either signal alone can make a finding relevant.
            score = 1.0 - (1.0 - base) * (1.0 - learned)
            out.append(Suggestion(number, self._findings[number].title, min(1.0, score)))
        out.sort(key=lambda s: (-s.score, s.number))
        return out

    def suggest(self, text: str, limit: int = 3) -> list[Suggestion]:
        """Up to `limit` relevant findings, best first; [] when nothing is relevant."""
        if limit <= 0:
            return []
        return [s for s in self.scores(text)[:limit] if s.score >= self.threshold]

    def learn(self, number: int, text: str) -> None:
        """Record a staff-confirmed link: `text` becomes an example for finding `number`."""
        if number not in self._findings:
            raise KeyError(f"no finding {number} in this notice")
        vector = self._vector(text)
        if vector:
            self._examples[number].append(vector)
