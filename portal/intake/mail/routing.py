"""Which office a message on the shared mailbox is for (pure: no Flask, no database).

A message in an office's own mailbox belongs to that office; the shared mailbox of a deployment
with several offices asks, in order:

(a) a recipient (Delivered-To, X-Original-To, then To and Cc) that is one of an office's
    mail addresses;
(b) the subject, else the first line of the body, naming an office (full or short name);
(c) the words of the message, judged by the guesser triage registers (intake.office_routing),
    when it is confident;
(d) nobody can tell: the message is recorded unrouted, with the candidates it had, and the
    inspection office routes it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from portal.intake.office_routing import OfficeGuess

log = logging.getLogger(__name__)

MIN_NAME_CHARS = 2  # a one-character "name" would match almost any text
FIRST_LINE_MAX = 200


@dataclass(frozen=True)
class OfficeRef:
    """What routing needs to know of one active office."""

    id: int
    name: str
    short_name: str = ""
    addresses: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        names = {_folded(n) for n in (self.name, self.short_name) if n}
        return [n for n in names if len(n) >= MIN_NAME_CHARS]


@dataclass(frozen=True)
class Candidate:
    """An office the message may be for, kept for the staff who route it."""

    office_id: int
    notice_id: int | None
    score: float
    how: str  # "address", "name" or "guess"

    def as_json(self) -> dict[str, Any]:
        return {
            "office_id": self.office_id,
            "notice_id": self.notice_id,
            "score": round(self.score, 4),
            "how": self.how,
        }


@dataclass(frozen=True)
class Route:
    """Where a message goes: ``office_id`` None means unrouted (the inspection office decides).

    ``how`` says why: mailbox, default (a one-office deployment), address, name, guess,
    thread (a reply to one of our mails) or unsure."""

    office_id: int | None
    how: str
    notice_id: int | None = None
    candidates: tuple[Candidate, ...] = ()

    def channel_details(self) -> dict[str, Any] | None:
        """What the routing desk reads of an unrouted message: its candidates, best first."""
        if self.office_id is not None:
            return None
        return {"office_candidates": [c.as_json() for c in self.candidates]}


Guess = Callable[[str], OfficeGuess | None]


def _folded(text: str) -> str:
    """Compared forms: NFKC (full-width letters and digits), no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _address(text: str) -> str:
    return text.strip().strip("<>").strip().lower()


def by_address(recipients: Iterable[str], offices: Sequence[OfficeRef]) -> list[int]:
    """The offices of the first recipient that is some office's address (usually one)."""
    for recipient in recipients:
        address = _address(recipient)
        if not address:
            continue
        found = [o.id for o in offices if address in {_address(a) for a in o.addresses}]
        if found:
            return found
    return []


def _first_line(body: str) -> str:
    for line in body.splitlines():
        if line.strip():
            return line.strip()[:FIRST_LINE_MAX]
    return ""


def _named_in(text: str, offices: Sequence[OfficeRef]) -> list[int]:
    """Offices named in ``text``; a name inside a longer matched name does not count
    ("检察院" inside "东莞市人民检察院" names the latter only)."""
    folded = _folded(text)
    if not folded:
        return []
    matched = [(o.id, name) for o in offices for name in o.names if name in folded]
    kept = {
        office_id
        for office_id, name in matched
        if not any(name != other and name in other for _id, other in matched)
    }
    return sorted(kept)


def by_name(subject: str, body: str, offices: Sequence[OfficeRef]) -> list[int]:
    """The offices the subject names; when it names none, those the body's first line names."""
    return _named_in(subject, offices) or _named_in(_first_line(body), offices)


def _safe_guess(guess: Guess | None, text: str) -> OfficeGuess | None:
    if guess is None:
        return None
    try:
        return guess(text)
    except Exception:  # a guesser's bug must not lose the message: route it by hand instead
        log.exception("office guesser failed")
        return None


def route_message(
    *,
    recipients: Sequence[str],
    subject: str,
    body: str,
    offices: Sequence[OfficeRef],
    guess: Guess | None = None,
) -> Route:
    """Route one message of the shared mailbox among ``offices`` (see the module docstring)."""
    known = {o.id for o in offices}
    addressed = by_address(recipients, offices)
    if len(addressed) == 1:
        return Route(addressed[0], "address")
    named = by_name(subject or "", body or "", offices)
    if len(named) == 1 and not addressed:
        return Route(named[0], "name")
    guessed = _safe_guess(guess, f"{subject or ''}\n{body or ''}")
    if (
        guessed is not None
        and guessed.confident
        and guessed.office_id in known
        and (not addressed or guessed.office_id in addressed)
    ):
        return Route(guessed.office_id, "guess", guessed.notice_id)
    candidates = [Candidate(i, None, 1.0, "address") for i in addressed]
    candidates += [Candidate(i, None, 1.0, "name") for i in named]
    if guessed is not None:
        pairs = guessed.candidates or ((guessed.office_id, guessed.notice_id, guessed.score),)
        candidates += [Candidate(o, n, float(s), "guess") for o, n, s in pairs if o in known]
    return Route(None, "unsure", candidates=_best_per_office(candidates))


def _best_per_office(candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
    """One candidate per office, the first seen (address and name beat a guess), best first."""
    best: dict[int, Candidate] = {}
    for candidate in candidates:
        best.setdefault(candidate.office_id, candidate)
    return tuple(sorted(best.values(), key=lambda c: -c.score))
