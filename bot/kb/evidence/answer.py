"""Answer-text evidence: the cosine between the message and the entry's answer, as plain words.

Stored with the version as ``answers.npy`` (one vector per entry). At search time only the
entries among the nearest phrasings are scored, so it costs little however large the FAQ.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.kb.evidence.base import BuildInput, Phrasings

FILE = "answers.npy"


def answer_text(markdown: str) -> str:
    """An answer as plain words for embedding: no Markdown marks, no URLs."""
    return " ".join(re.sub(r"https?://\S+|[*_`#>\[\]()|]", " ", markdown).split())


class AnswerEvidence:
    name = "answer"
    needs_text = False
    files = (FILE,)

    def usable_weight(self, weight: float, n_entries: int) -> float:
        return weight

    def fit(self, build: BuildInput, folder: Path) -> int:
        answers, encoded = build.embed([answer_text(e.answer) for e in build.entries])
        np.save(folder / FILE, answers)
        return encoded

    def load(self, folder: Path, phrasings: Phrasings) -> np.ndarray:
        return np.load(folder / FILE)

    def scores(self, state: np.ndarray, vectors: np.ndarray, queries: Sequence[str] | None,
               found: Sequence[np.ndarray]) -> list[Any]:
        return [dict(zip(entries.tolist(), (state[entries] @ vector).tolist()))
                for vector, entries in zip(vectors, found)]

    def held_out(self, state: np.ndarray, vectors: np.ndarray, phrasings: Phrasings,
                 rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(vectors[rows]) @ state.T

    def for_stand_ins(self, state: np.ndarray, scores: list[Any], labels: np.ndarray, vectors: np.ndarray,
                      phrasings: Phrasings) -> list[Any]:
        """A sentence of an answer matches that answer far better than a customer's question does:
        its own entry's answer score becomes its phrasings' mean cosine with the answer instead
        (what a message close to the entry's question would get)."""
        own = np.zeros(len(state))
        np.add.at(own, phrasings.owners, np.einsum("ij,ij->i", vectors, state[phrasings.owners]))
        own /= np.maximum(np.bincount(phrasings.owners, minlength=len(state)), 1)
        return [{**row, int(label): float(own[label])} if int(label) in row else row
                for row, label in zip(scores, labels)]
