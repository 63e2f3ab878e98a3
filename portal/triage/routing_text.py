"""What the finding-suggestion engine reads of a text: jieba words, CJK bigrams, and the lexicon
rules (lexicon.txt) its everyday words fire. Texts are normalised first (normalise.py). Pure
logic: no Flask import.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from portal.triage.concepts import load_concepts
from portal.triage.normalise import normalise

if TYPE_CHECKING:
    import jieba

LEXICON_PATH = Path(__file__).with_name("lexicon.txt")

BIGRAM_WEIGHT = 0.5  # bigrams catch words jieba splits differently; words are cleaner
_HITS_EXPONENT = 0.75  # several citizen words of one rule: stronger, sublinear evidence
MAX_QUERY_CHARS = 1000  # long texts: the opening says what it is about; bounds suggest()
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
                for concept in load_concepts().concepts.values():
                    for form in concept.all_forms():
                        if len(form) >= 2 and not form.isascii():
                            tok.add_word(form, freq=2000)
                _jieba_tokenizer = tok
    return _jieba_tokenizer


def _parse_lexicon(lines: Iterable[str]) -> tuple[LexiconRule, ...]:
    rules = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#") or "\t" not in line:
            continue
        citizen, notice = line.split("\t", 1)
        words = tuple(dict.fromkeys(normalise(w) for w in citizen.split() if w))
        terms = tuple(dict.fromkeys(normalise(t) for t in notice.split() if t))
        if words and terms:
            rules.append(LexiconRule(words, terms))
    return tuple(rules)


@lru_cache(maxsize=1)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[LexiconRule, ...]:
    """The domain lexicon, parsed once per process."""
    return _parse_lexicon(path.read_text(encoding="utf-8").splitlines())


def _bigrams(text: str) -> Iterable[str]:
    for run in _CJK_RUN.findall(text):
        for i in range(len(run) - 1):
            gram = run[i : i + 2]
            if gram not in _STOP_BIGRAMS:
                yield gram


def terms(text: str, jieba_chars: int | None = None) -> Counter[str]:
    """Weighted bag of index terms: jieba words ("w:") and CJK bigrams ("b:").

    `jieba_chars` bounds the segmented prefix: jieba costs ~15 us a character, bigrams
    and lexicon matching cover the rest of a long submission cheaply.
    """
    norm = normalise(text)
    bag: Counter[str] = Counter()
    for word in _tokenizer().cut_for_search(norm[:jieba_chars], HMM=False):
        if _WORD_OK.match(word) and word not in _STOPWORDS:
            bag["w:" + word] += 1
    for gram in _bigrams(norm):
        bag["b:" + gram] += 1
    return bag


def term_weight(term: str) -> float:
    return BIGRAM_WEIGHT if term.startswith("b:") else 1.0


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
def terms_cached(text: str) -> Counter[str]:
    return terms(text)


@lru_cache(maxsize=256)
def query_terms(norm: str) -> Counter[str]:
    """A submission's own terms. Cached: a round's routers (one per notice) all read the same
    text, and jieba is most of the cost. Callers must not change the Counter."""
    return terms(norm, _MAX_JIEBA_CHARS)


@lru_cache(maxsize=1024)
def expansion_cached(text: str) -> tuple[tuple[float, tuple[str, ...]], ...]:
    return _expansion(text, load_lexicon())
