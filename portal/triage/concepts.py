"""The concept map (data/concepts.toml): what inspection findings are about, as citizens say it.

A concept fires in a text when one of its forms occurs; other bodies (hospital, traffic police,
neighbour...) fire the same way and drive referral (转办) suggestions. Forms are normalised like
the texts they are matched in, and matched leftmost-longest without overlap, so 超市卡 is a gift
card and not a supermarket. Pure logic: no Flask import.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from portal.triage.normalise import normalise, without_negation

__all__ = ["Body", "Concept", "ConceptMap", "Hit", "load_concepts"]

CONCEPTS_PATH = Path(__file__).with_name("data") / "concepts.toml"
FORM_KINDS = ("terms", "plain", "colloquial", "cantonese", "typos", "pinyin")


@dataclass(frozen=True)
class Concept:
    id: str
    label: str
    area: str
    forms: dict[str, tuple[str, ...]]  # form kind -> normalised forms

    def all_forms(self) -> tuple[str, ...]:
        return tuple(f for kind in FORM_KINDS for f in self.forms.get(kind, ()))


@dataclass(frozen=True)
class Body:
    kind: str
    label: str
    forms: tuple[str, ...]  # how a complaint names the body
    own: tuple[str, ...] = ()  # words in a notice that make the body the office's own business


@dataclass(frozen=True)
class Hit:
    """One fired concept or body: which one, and the form that fired first."""

    key: str  # concept id, or "body:" + body kind
    form: str


_ASCII_WORD = re.compile(r"[a-z0-9]")


def _stands_alone(text: str, start: int, form: str) -> bool:
    """ASCII forms (pinyin initials, 110) must stand alone: "gcsy" is not in "gcsyz"."""
    if not form.isascii():
        return True
    before = text[start - 1 : start]
    after = text[start + len(form) : start + len(form) + 1]
    return not _ASCII_WORD.fullmatch(before or " ") and not _ASCII_WORD.fullmatch(after or " ")


class ConceptMap:
    """Concepts and bodies with one matcher over all their forms."""

    _lengths: list[int]

    def __init__(self, concepts: tuple[Concept, ...], bodies: tuple[Body, ...]) -> None:
        self.concepts = {c.id: c for c in concepts}
        self.bodies = {b.kind: b for b in bodies}
        owners: dict[str, list[str]] = {}
        for concept in concepts:
            for form in dict.fromkeys(concept.all_forms()):
                owners.setdefault(form, []).append(concept.id)
        for body in bodies:
            for form in dict.fromkeys(body.forms):
                owners.setdefault(form, []).append("body:" + body.kind)
        # A form shared by two entries is a data error (tests/test_concepts.py); the first wins.
        self.duplicates = {f: tuple(o) for f, o in owners.items() if len(o) > 1}
        self._owner = {f: o[0] for f, o in owners.items()}
        self._lengths = sorted({len(f) for f in self._owner}, reverse=True)

    def owner(self, form: str) -> str | None:
        return self._owner.get(form)

    def _scan(self, text: str, found: dict[str, str]) -> None:
        """Leftmost-longest, non-overlapping: at each position the longest form wins and the
        scan resumes after it (a dict look-up per form length: ~10x faster than one regex)."""
        i, end = 0, len(text)
        while i < end:
            for length in self._lengths:
                form = text[i : i + length]
                if len(form) == length and form in self._owner and _stands_alone(text, i, form):
                    found.setdefault(self._owner[form], form)
                    i += length
                    break
            else:
                i += 1

    def hits(self, norm: str) -> tuple[Hit, ...]:
        """Concepts and bodies in a normalised text, in order of first occurrence; the text is
        also read without its negators (政策不落地 fires 政策落地)."""
        found: dict[str, str] = {}
        self._scan(norm, found)
        self._scan(without_negation(norm), found)
        return tuple(Hit(key, form) for key, form in found.items())

    def own_bodies(self, norm: str) -> frozenset[str]:
        """Keys ("body:" + kind) of the bodies a notice's own text makes its own business."""
        return frozenset(
            "body:" + b.kind
            for b in self.bodies.values()
            if any(form in norm for form in (*b.own, *b.forms))
        )

    def label(self, key: str) -> str:
        if key.startswith("body:"):
            return self.bodies[key[5:]].label
        return self.concepts[key].label


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: expected a list of non-empty strings")
    return tuple(dict.fromkeys(normalise(v.strip()) for v in value))


def parse_concepts(text: str) -> ConceptMap:
    """The concept map from TOML text; raises ValueError on a malformed entry."""
    data = tomllib.loads(text)
    concepts = []
    for i, raw in enumerate(data.get("concept", [])):
        where = f"concept #{i + 1} ({raw.get('id', '?')})"
        if not raw.get("id") or not raw.get("label") or not raw.get("terms"):
            raise ValueError(f"{where}: id, label and terms are required")
        unknown = set(raw) - {"id", "label", "area", *FORM_KINDS}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        forms = {k: _strings(raw[k], f"{where}.{k}") for k in FORM_KINDS if k in raw}
        concepts.append(Concept(raw["id"], raw["label"], raw.get("area", ""), forms))
    bodies = []
    for i, raw in enumerate(data.get("body", [])):
        where = f"body #{i + 1} ({raw.get('kind', '?')})"
        if not raw.get("kind") or not raw.get("label") or not raw.get("forms"):
            raise ValueError(f"{where}: kind, label and forms are required")
        unknown = set(raw) - {"kind", "label", "forms", "own"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        named = _strings(raw["forms"], f"{where}.forms")
        own = _strings(raw.get("own", []), f"{where}.own")
        bodies.append(Body(raw["kind"], raw["label"], named, own))
    return ConceptMap(tuple(concepts), tuple(bodies))


@lru_cache(maxsize=1)
def load_concepts(path: Path = CONCEPTS_PATH) -> ConceptMap:
    """The shipped concept map, parsed once per process."""
    return parse_concepts(path.read_text(encoding="utf-8"))
