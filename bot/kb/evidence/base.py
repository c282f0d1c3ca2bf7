"""What every signal's computing side provides: fit at build time, load, score, score held out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from bot.kb.corpus import FaqEntry


@dataclass
class BuildInput:
    """What a signal may read while a version is built."""

    entries: Sequence[FaqEntry]
    texts: Sequence[str]
    owners: np.ndarray
    vectors: np.ndarray
    embed: Callable[[list[str]], tuple[np.ndarray, int]]  # through the embedding cache
    previous: Path | None = None  # the serving version's folder: what a signal may reuse


@dataclass
class Phrasings:
    """A version's phrasings, as loading and calibration see them."""

    texts: Sequence[str]
    owners: np.ndarray
    n_entries: int
    dim: int


class Evidence(Protocol):
    name: str
    needs_text: bool  # scores the query's words, so search needs the query texts
    files: tuple[str, ...]  # what it stores in a version's folder

    def usable_weight(self, weight: float, n_entries: int) -> float:
        """The weight this corpus can have (0 where the signal does not apply)."""
        ...

    def fit(self, build: BuildInput, folder: Path) -> int:
        """Write the signal's files into the new version's ``folder``; returns texts newly encoded."""
        ...

    def load(self, folder: Path, phrasings: Phrasings) -> Any:
        """The signal's state for serving (raises OSError/ValueError/KeyError when unreadable)."""
        ...

    def scores(self, state: Any, vectors: np.ndarray, queries: Sequence[str] | None,
               found: Sequence[np.ndarray]) -> list[Any]:
        """Per query, the entries' scores (a row, or a mapping for the entries ``found``)."""
        ...

    def held_out(self, state: Any, vectors: np.ndarray, phrasings: Phrasings, rows: np.ndarray) -> np.ndarray:
        """Scores of the phrasings ``rows`` as if they were unseen customer messages (calibration)."""
        ...

    def for_stand_ins(self, state: Any, scores: list[Any], labels: np.ndarray, vectors: np.ndarray,
                      phrasings: Phrasings) -> list[Any]:
        """``scores`` (from :meth:`scores`) of calibration's stand-in questions, sentences of the
        answers of entries ``labels`` (``bot.kb.stand_ins``), with whatever the signal learnt from
        that very answer left out (``vectors``: the phrasings' vectors)."""
        ...
