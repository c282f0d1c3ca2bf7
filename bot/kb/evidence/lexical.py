"""Lexical evidence: how well a message's words match each entry's phrasings (BM25, rank-bm25).

Each entry's question and alternates form one document; a message's BM25 scores are scaled so the
best entry scores 1 (all 0 when no word matches) and blended into entry scores like the head's
probability (``bot.kb.evidence``), with weight ``SUPPORTBOT_LEXICAL_WEIGHT`` (``kb build --lexical-weight``;
0 turns it off). What it gains and costs on public sets: docs/benchmarks.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.kb.evidence.base import BuildInput, Phrasings
from bot.kb.evidence.head import round_robin_folds

WORD = re.compile(r"[\w']+")  # letters and digits of any script


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class Lexical:
    """rank-bm25's BM25Okapi statistics, scored through per-word postings: a message costs a
    look-up per word instead of rank-bm25's pass over every entry per word (same scores)."""

    def __init__(self, texts: Sequence[str], owners: np.ndarray, n_entries: int):
        from rank_bm25 import BM25Okapi

        docs: list[list[str]] = [[] for _ in range(n_entries)]
        for text, owner in zip(texts, owners):
            docs[int(owner)].extend(words(text))
        self.n_entries = n_entries
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not any(docs):  # rank-bm25 fails on no words at all
            return
        bm25 = BM25Okapi(docs)
        length_norm = bm25.k1 * (1 - bm25.b + bm25.b * np.asarray(bm25.doc_len) / bm25.avgdl)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for entry, freqs in enumerate(bm25.doc_freqs):
            for word, tf in freqs.items():
                ids, weights = postings.setdefault(word, ([], []))
                ids.append(entry)
                weights.append(bm25.idf[word] * tf * (bm25.k1 + 1) / (tf + length_norm[entry]))
        self._postings = {word: (np.asarray(ids), np.asarray(weights))
                          for word, (ids, weights) in postings.items()}

    def covered(self, query_words: Sequence[str], entry: int) -> tuple[frozenset[str], frozenset[str]]:
        """Of a message's content words (``bot.kb.query.content_words``), those the entry's
        document has, and those of them no other entry's document has."""
        found = [w for w in query_words if w in self._postings and entry in self._postings[w][0]]
        return frozenset(found), frozenset(w for w in found if len(self._postings[w][0]) == 1)

    def scores(self, text: str) -> np.ndarray:
        """Per entry, in [0, 1]: the best-matching entry scores 1."""
        scores = np.zeros(self.n_entries)
        for word in words(text):
            if word in self._postings:
                ids, weights = self._postings[word]
                scores[ids] += weights
        top = float(scores.max()) if len(scores) else 0.0
        return (scores / top if top > 0 else np.zeros_like(scores)).astype(np.float32)


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


class LexicalEvidence:
    """Built from the version's phrasings when it is loaded: nothing is stored."""

    name = "lexical"
    needs_text = True
    files: tuple[str, ...] = ()

    def usable_weight(self, weight: float, n_entries: int) -> float:
        return weight

    def fit(self, build: BuildInput, folder: Path) -> int:
        return 0

    def load(self, folder: Path, phrasings: Phrasings) -> Lexical:
        return Lexical(phrasings.texts, phrasings.owners, phrasings.n_entries)

    def scores(self, state: Lexical, vectors: np.ndarray, queries: Sequence[str] | None,
               found: Sequence[np.ndarray]) -> list[Any]:
        assert queries is not None
        return [state.scores(q) for q in queries]

    def held_out(self, state: Lexical, vectors: np.ndarray, phrasings: Phrasings,
                 rows: np.ndarray) -> np.ndarray:
        return cross_fitted_scores(phrasings.texts, phrasings.owners, phrasings.n_entries, rows)

    def for_stand_ins(self, state: Any, scores: list[Any], labels: np.ndarray, vectors: np.ndarray,
                      phrasings: Phrasings) -> list[Any]:
        return scores  # its documents are phrasings only, never answers: nothing to leave out
