"""Scoring signals blended into an entry's score next to its best phrasing's cosine.

Each signal is declared once, here: its name, default weight and help text. The setting
(``SUPPORTBOT_<NAME>_WEIGHT``), the build flag (``--<name>-weight``), the manifest key
(``<name>_weight``), the weight check, index building, search and calibration all read
:data:`SIGNALS`; the computing side of each lives in its own module (:func:`computations`).
An entry's score is (phrasing + sum of weight * signal) / (1 + sum of weights).

To add a signal: declare it in ``SIGNALS`` and write a module with a class like
``bot.kb.evidence.lexical.LexicalEvidence``, listed in :func:`computations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Signal", "SIGNALS", "MAX_WEIGHT", "weight_problem", "resolve_weights", "computations"]

MAX_WEIGHT = 10.0


@dataclass(frozen=True)
class Signal:
    name: str
    default: float
    help: str

    @property
    def key(self) -> str:
        """The manifest key, settings field and keyword argument: ``<name>_weight``."""
        return f"{self.name}_weight"

    @property
    def setting(self) -> str:
        return f"SUPPORTBOT_{self.key.upper()}"

    @property
    def flag(self) -> str:
        return f"--{self.name}-weight"


SIGNALS: tuple[Signal, ...] = (
    Signal("answer", 0.5, "weight of the answer text as evidence, 0 when answers are placeholders"),
    Signal("head", 0.5, "weight of the classifier head's probability, 0 turns the head off"),
    # chosen on validation splits (bench/lexical.py)
    Signal("lexical", 0.4, "weight of BM25 word matching, 0 turns it off (docs/faq-format.md)"),
)


def weight_problem(signal: Signal, value: float) -> str | None:
    """What is wrong with ``value`` as the signal's weight, or None."""
    if not 0 <= value <= MAX_WEIGHT:
        return f"must be between 0 and {MAX_WEIGHT:g} (0 turns it off), got {value}"
    return None


def resolve_weights(given: Mapping[str, float]) -> dict[str, float]:
    """Every signal's weight by key (``answer_weight``...): the given ones, else the defaults.
    Raises ValueError naming an unknown key or a bad weight."""
    keys = {s.key for s in SIGNALS}
    unknown = set(given) - keys
    if unknown:
        raise ValueError(f"unknown scoring weights {sorted(unknown)}; known: {sorted(keys)}")
    weights = {}
    for s in SIGNALS:
        value = float(given.get(s.key, s.default))
        problem = weight_problem(s, value)
        if problem:
            raise ValueError(f"the {s.name} weight {problem}")
        weights[s.key] = value
    return weights


def computations() -> dict[str, Any]:
    """Each signal's computing side by name, in ``SIGNALS`` order (imported on first use)."""
    from bot.kb.evidence.answer import AnswerEvidence
    from bot.kb.evidence.head import HeadEvidence
    from bot.kb.evidence.lexical import LexicalEvidence

    found = {e.name: e for e in (AnswerEvidence(), HeadEvidence(), LexicalEvidence())}
    return {s.name: found[s.name] for s in SIGNALS}
