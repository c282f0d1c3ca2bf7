"""Lexical evidence: how well a message's words match each entry's phrasings (BM25, rank-bm25).

Each entry's question and alternates form one document; a message's BM25 scores are scaled so the
best entry scores 1 (all 0 when no word matches) and blended into entry scores like the head's
probability (``bot.kb.index``). Off by default (``kb build --lexical-weight``): it helped on public
sets with many phrasings per entry (docs/benchmarks.md) and costs a pass over every entry per
message, so it suits FAQs of up to a few thousand entries.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from bot.kb.head import round_robin_folds

LEXICAL_WEIGHT = 0.0  # off unless a build asks for it
WORD = re.compile(r"[\w']+")  # letters and digits of any script


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class Lexical:
    def __init__(self, texts: Sequence[str], owners: np.ndarray, n_entries: int):
        from rank_bm25 import BM25Okapi

        docs: list[list[str]] = [[] for _ in range(n_entries)]
        for text, owner in zip(texts, owners):
            docs[int(owner)].extend(words(text))
        self.n_entries = n_entries
        self._bm25 = BM25Okapi(docs) if any(docs) else None  # rank-bm25 fails on no words at all

    def scores(self, text: str) -> np.ndarray:
        """Per entry, in [0, 1]: the best-matching entry scores 1."""
        if self._bm25 is None:
            return np.zeros(self.n_entries, dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(words(text)), dtype=np.float32)
        top = float(scores.max()) if len(scores) else 0.0
        return scores / top if top > 0 else np.zeros_like(scores)


def cross_fitted_scores(texts: Sequence[str], owners: np.ndarray, n_entries: int, rows: np.ndarray,
                        folds: int = 2) -> np.ndarray:
    """Scores for the phrasings ``rows`` from documents without them: each entry's phrasings are
    dealt round-robin into ``folds`` folds, and a phrasing is scored against the other folds (its
    own words in its entry's document would make calibration's leave-one-out far too sure)."""
    fold_of = round_robin_folds(owners, folds)
    out = np.zeros((len(rows), n_entries), dtype=np.float32)
    for fold in range(folds):
        keep = np.flatnonzero(fold_of != fold)
        lexical = Lexical([texts[i] for i in keep], owners[keep], n_entries)
        for n, row in enumerate(rows):
            if fold_of[row] == fold:
                out[n] = lexical.scores(texts[row])
    return out
