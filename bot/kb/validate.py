"""Corpus checks that need the encoder: near-duplicate phrasings across entries, misplaced phrasings.

``embedding_issues`` is the one entry point (``supportbot kb validate`` and the editor page): it
encodes the phrasings and answers through the embedding cache, searches each phrasing's nearest
phrasings once (``Neighbours``) and runs both checks on that search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from bot.kb.corpus import Corpus, Issue
from bot.kb.encoder import Encoder
from bot.kb.evidence import SIGNALS, weight_problem
from bot.kb.evidence.answer import answer_text
from bot.kb.index import embed_phrasings, make_faiss_index, phrasing_table

NEAR_DUPLICATE = 0.92
MISPLACED_MARGIN = 0.2  # measured by bench/misplaced.py (docs/faq-format.md, "Misplaced phrasings")
ANSWER = next(s for s in SIGNALS if s.name == "answer")
ANSWER_WEIGHT = ANSWER.default
NEAREST = 20  # phrasings searched per phrasing, as a served search looks at (search_k)


@dataclass(frozen=True)
class Neighbours:
    """Each phrasing's nearest phrasings (itself among them), best first: one search for every check."""

    scores: np.ndarray  # (n, k) cosine
    ids: np.ndarray  # (n, k) phrasing rows, -1 where fewer than k exist

    @classmethod
    def search(cls, vectors: np.ndarray, k: int = NEAREST) -> Neighbours:
        index = make_faiss_index(vectors)
        scores, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32),
                                   max(1, min(k, len(vectors))))
        return cls(scores, ids)


def embedding_issues(corpus: Corpus, encoder: Encoder, *, index_dir: Path | None = None,
                     near_duplicate: float = NEAR_DUPLICATE, misplaced_margin: float = MISPLACED_MARGIN,
                     answer_weight: float = ANSWER_WEIGHT) -> list[Issue]:
    """Near-duplicate and misplaced-phrasing warnings for ``corpus.entries``.

    Vectors come through the embedding cache under ``index_dir`` (``kb_index/``) when given, so a
    repeated call encodes only new phrasings and answers; without it everything is encoded.
    ``answer_weight`` is the served answer evidence's weight (``SUPPORTBOT_ANSWER_WEIGHT``; 0 when
    answers are placeholders). Raises ``ValueError`` for a level, margin or weight out of range.
    """
    check_options(near_duplicate, misplaced_margin, answer_weight)
    if not corpus.entries:
        return []
    texts, owners = phrasing_table(corpus.entries)
    answers = [answer_text(e.answer) for e in corpus.entries] if answer_weight > 0 else []
    vectors = _embed(index_dir, encoder, texts + answers)
    vectors, answer_vectors = vectors[:len(texts)], (vectors[len(texts):] if answers else None)
    neighbours = Neighbours.search(vectors)
    return (near_duplicates(corpus, vectors, owners, texts, near_duplicate, neighbours=neighbours)
            + misplaced(corpus, vectors, owners, texts, misplaced_margin, answers=answer_vectors,
                        answer_weight=answer_weight, near_duplicate=near_duplicate,
                        neighbours=neighbours))


def _embed(index_dir: Path | None, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    if index_dir is None:
        return encoder.encode(texts)
    return embed_phrasings(index_dir, encoder, texts)[0]


def check_options(near_duplicate: float = NEAR_DUPLICATE, misplaced_margin: float = MISPLACED_MARGIN,
                  answer_weight: float = ANSWER_WEIGHT) -> None:
    """Raise ``ValueError`` saying which option is out of range."""
    _check(near_duplicate, misplaced_margin, answer_weight)


def _check(near_duplicate: float, margin: float = 0.0, answer_weight: float = 0.0) -> None:
    if not 0 < near_duplicate <= 1:
        raise ValueError(f"the near-duplicate level must be a cosine in (0, 1], not {near_duplicate:g}")
    if not 0 <= margin < 1:
        raise ValueError(f"the misplaced margin must be a score difference in [0, 1), not {margin:g}")
    problem = weight_problem(ANSWER, answer_weight)
    if problem:
        raise ValueError(f"the answer weight {problem}")


def near_duplicates(corpus: Corpus, vectors: np.ndarray, owners: np.ndarray, texts: list[str],
                    level: float = NEAR_DUPLICATE, k: int = 10, *,
                    neighbours: Neighbours | None = None) -> list[Issue]:
    """Warn once per pair of entries whose phrasings are closer than ``level`` (cosine)."""
    _check(level)
    neighbours = neighbours or Neighbours.search(vectors, k)
    worst: dict[tuple[int, int], tuple[float, int, int]] = {}
    for a, col in zip(*np.nonzero((neighbours.scores >= level) & (neighbours.ids >= 0))):
        b = int(neighbours.ids[a, col])
        if owners[a] == owners[b]:
            continue
        score = float(neighbours.scores[a, col])
        pair = (int(min(owners[a], owners[b])), int(max(owners[a], owners[b])))
        if pair not in worst or score > worst[pair][0]:
            worst[pair] = (score, int(a), b)
    issues = []
    for (i, j), (score, a, b) in sorted(worst.items()):
        first, second = corpus.entries[i], corpus.entries[j]
        issues.append(Issue(
            "warning", first.file, first.line, first.id,
            f"near-duplicate of entry '{second.id}' ({second.file}:{second.line}): "
            f"{texts[a]!r} ~ {texts[b]!r} (cosine {score:.2f}); merge them or reword one",
        ))
    return issues


@dataclass(frozen=True)
class Placement:
    """Per phrasing, how its own entry and the best other entry score it, as the bot scores an entry
    (best phrasing's cosine blended with the answer's) with the phrasing itself left out."""

    own: np.ndarray  # (n,) blended score of the own entry; -inf for an entry's only phrasing
    own_cosine: np.ndarray  # (n,) cosine to the nearest other phrasing of the own entry
    own_id: np.ndarray  # (n,) that phrasing's row, -1 if none
    other: np.ndarray  # (n,) blended score of the best other entry among the neighbours; -inf if none
    other_cosine: np.ndarray  # (n,) cosine to that entry's nearest phrasing
    other_id: np.ndarray  # (n,) that phrasing's row, -1 if none
    own_answer: np.ndarray  # (n,) cosine to the own entry's answer (0 without answers)
    other_answer: np.ndarray  # (n,) cosine to the other entry's answer (0 without answers)


def placement(vectors: np.ndarray, owners: np.ndarray, neighbours: Neighbours,
              answers: np.ndarray | None = None, answer_weight: float = 0.0) -> Placement:
    """Own cosines exactly (one product per entry), other entries among the searched neighbours
    (as a served search scores only the entries of its nearest phrasings)."""
    n = len(owners)
    own_cos, own_id = np.full(n, -np.inf, dtype=np.float32), np.full(n, -1, dtype=np.int64)
    order = np.argsort(owners, kind="stable")
    for rows in np.split(order, np.flatnonzero(np.diff(owners[order])) + 1):
        if len(rows) < 2:
            continue
        for start in range(0, len(rows), 1024):  # blocks: a huge entry stays small in memory
            block = rows[start:start + 1024]
            sims = vectors[block] @ vectors[rows].T
            sims[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
            best = sims.argmax(axis=1)
            own_cos[block], own_id[block] = sims[np.arange(len(block)), best], rows[best]
    ids, cos = neighbours.ids, neighbours.scores
    entries = owners[np.maximum(ids, 0)]
    w = answer_weight if answers is not None else 0.0
    if w > 0:
        assert answers is not None
        own_ans = np.einsum("nd,nd->n", vectors, answers[owners])
        ans = np.zeros_like(cos)
        for start in range(0, n, 1024):  # (rows, k, dim) at a time
            end = start + 1024
            ans[start:end] = np.einsum("nkd,nd->nk", answers[entries[start:end]], vectors[start:end])
    else:
        own_ans, ans = np.zeros(n, dtype=np.float32), np.zeros_like(cos)
    blended = np.where((ids >= 0) & (entries != owners[:, None]), (cos + w * ans) / (1 + w), -np.inf)
    col = blended.argmax(axis=1)
    rows = np.arange(n)
    found = np.isfinite(blended[rows, col])
    return Placement(
        own=np.where(own_id >= 0, (own_cos + w * own_ans) / (1 + w), -np.inf),
        own_cosine=own_cos, own_id=own_id,
        other=blended[rows, col], other_cosine=np.where(found, cos[rows, col], -np.inf),
        other_id=np.where(found, ids[rows, col], -1),
        own_answer=own_ans, other_answer=np.where(found, ans[rows, col], 0.0),
    )


def misplaced(corpus: Corpus, vectors: np.ndarray, owners: np.ndarray, texts: list[str],
              margin: float = MISPLACED_MARGIN, k: int = NEAREST, *, answers: np.ndarray | None = None,
              answer_weight: float = ANSWER_WEIGHT, near_duplicate: float = NEAR_DUPLICATE,
              neighbours: Neighbours | None = None) -> list[Issue]:
    """Warn about each phrasing that another entry scores higher than its own entry by more than
    ``margin``, the phrasing itself left out (would the bot send it elsewhere without it?).

    An entry's score for a phrasing is its best other phrasing's cosine blended with its answer's
    cosine (``answers``, one vector per entry) by ``answer_weight``, as served; without answers,
    the cosine alone. An entry with a single phrasing has nothing of its own to compare with: it is
    skipped (the near-duplicate check still covers it). A phrasing at or above ``near_duplicate``
    to another entry's phrasing is left to the near-duplicate warning, which names the pair
    without guessing which entry should keep it.
    """
    _check(near_duplicate, margin, answer_weight)
    p = placement(vectors, owners, neighbours or Neighbours.search(vectors, k), answers, answer_weight)
    comparable = (p.own_id >= 0) & (p.other_id >= 0)
    gap = np.subtract(p.other, p.own, out=np.full(len(owners), -np.inf, dtype=np.float32), where=comparable)
    flagged = np.flatnonzero((gap > margin) & (p.other_cosine < near_duplicate))
    found = {int(a): int(p.other_id[a]) for a in flagged}
    describe = _Describe(corpus, owners, texts, p, answers is not None and answer_weight > 0)
    issues = []
    for a, b in found.items():
        if found.get(b) != a:
            issues.append(describe.misplaced(a))
        elif p.own[a] < p.own[b] - margin:  # a fits its own entry clearly worse: a is the stray one,
            issues.append(describe.misplaced(a))  # b only looks misplaced because a sits beside it
        elif a < b and p.own[b] >= p.own[a] - margin:  # neither entry is the obvious home
            issues.append(describe.mutual(a, b))
    return issues


@dataclass(frozen=True)
class _Describe:
    corpus: Corpus
    owners: np.ndarray
    texts: list[str]
    p: Placement
    with_answers: bool

    def _kind(self, a: int) -> str:
        return "question" if self.texts[a] == self.corpus.entries[self.owners[a]].question else "alternate"

    def _scores(self, a: int) -> str:
        p, texts = self.p, self.texts
        there = f"{texts[p.other_id[a]]!r} {p.other_cosine[a]:.2f}"
        here = f"{texts[p.own_id[a]]!r} {p.own_cosine[a]:.2f}"
        if self.with_answers:
            there += f", answer {p.other_answer[a]:.2f}"
            here += f", answer {p.own_answer[a]:.2f}"
        return f"score {p.other[a]:.2f} there ({there}) vs {p.own[a]:.2f} here ({here})"

    def misplaced(self, a: int) -> Issue:
        entry = self.corpus.entries[self.owners[a]]
        other = self.corpus.entries[self.owners[self.p.other_id[a]]]
        return Issue(
            "warning", entry.file, entry.line, entry.id,
            f"{self._kind(a)} {self.texts[a]!r} is closer to entry '{other.id}' ({other.file}:{other.line}) "
            f"than to its own entry: {self._scores(a)}; move it to entry '{other.id}' or reword it",
        )

    def mutual(self, a: int, b: int) -> Issue:
        entry, other = self.corpus.entries[self.owners[a]], self.corpus.entries[self.owners[b]]
        return Issue(
            "warning", entry.file, entry.line, entry.id,
            f"{self._kind(a)} {self.texts[a]!r} and {self._kind(b)} {self.texts[b]!r} of entry "
            f"'{other.id}' ({other.file}:{other.line}) are closer to each other (cosine "
            f"{self.p.other_cosine[a]:.2f}) than to their own entries (score {self.p.own[a]:.2f} here, "
            f"{self.p.own[b]:.2f} there): the bot may mix the two entries up; reword one or both so each "
            f"says what is specific to its entry",
        )
