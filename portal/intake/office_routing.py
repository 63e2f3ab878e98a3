"""Which office a message without a notice is about, judged from its words.

Intake knows offices by their mailboxes and addresses; judging from what a message says needs the
finding suggestions, which live in triage, a layer above. Triage registers its guesser here at
start-up (portal/triage/__init__.py), so intake asks without importing upwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class OfficeGuess:
    """The best office (and its notice) for a text. ``confident`` means route it without asking;
    otherwise the inspection office confirms. ``candidates`` lists (office_id, notice_id, score)
    best first, for the staff who confirm."""

    office_id: int
    notice_id: int | None
    score: float
    confident: bool
    candidates: tuple[tuple[int, int | None, float], ...] = ()


# (text, round_id or None) -> the best guess, or None when nothing matches at all.
Guesser = Callable[[str, int | None], OfficeGuess | None]
_guessers: list[Guesser] = []


def register_guesser(guesser: Guesser) -> None:
    if guesser not in _guessers:
        _guessers.append(guesser)


def guess_office(text: str, round_id: int | None = None) -> OfficeGuess | None:
    """The first registered guesser's answer; None without a guesser or without a match."""
    for guesser in _guessers:
        found = guesser(text, round_id)
        if found is not None:
            return found
    return None
