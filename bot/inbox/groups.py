"""The inbox grouped by meaning: questions that ask the same thing, whatever their words, form one
group an editor acts on once.

Questions are encoded with the served encoder (so "same meaning" is the bot's own notion) and
clustered with scikit-learn's agglomerative clustering (average linkage on cosine distance, cut at
``distance``): no number of groups to guess. Identical texts are encoded once. Each group has its
count, the customers it touched (distinct conversations: the sort order), first and last seen,
examples (the most central first) and the entries nearest to its most central question.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from bot.inbox.store import Question

DISTANCE = 0.65  # cosine distance at which groups stop merging: paraphrase families hold together from
# 0.6 to 0.7 with all-MiniLM-L6-v2 (tests/integration/test_inbox_groups.py), unrelated ones merge at 0.8
EXAMPLES = 5
Encode = Callable[[list[str]], np.ndarray]  # texts -> unit vectors
Nearest = Callable[[str, np.ndarray], list[tuple[str, float]]]  # (text, vector) -> [(entry id, score)]


@dataclass(frozen=True)
class Group:
    questions: list[Question]
    customers: int
    first_seen: datetime
    last_seen: datetime
    examples: list[str]
    nearest: list[tuple[str, float]]

    @property
    def count(self) -> int:
        return len(self.questions)


def group_questions(questions: Sequence[Question], encode: Encode, nearest: Nearest | None = None,
                    distance: float = DISTANCE) -> list[Group]:
    """Groups of ``questions``, the one that touched most customers first."""
    if not questions:
        return []
    texts = sorted({_key(q) for q in questions})
    vectors = np.asarray(encode(texts), dtype=np.float32)
    labels = _clusters(vectors, distance)
    label_of = dict(zip(texts, labels))
    members: dict[int, list[Question]] = {}
    for q in questions:
        members.setdefault(int(label_of[_key(q)]), []).append(q)
    row_of = {t: i for i, t in enumerate(texts)}
    groups = [_group(qs, vectors, texts, row_of, nearest) for qs in members.values()]
    return sorted(groups, key=lambda g: (-g.customers, -g.count, -g.last_seen.timestamp()))


def _clusters(vectors: np.ndarray, distance: float) -> np.ndarray:
    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, affinity="cosine",
                                    linkage="average")
    return model.fit_predict(vectors)


def _key(q: Question) -> str:
    return q.question.strip().lower()


def _group(questions: list[Question], vectors: np.ndarray, texts: list[str], row_of: dict[str, int],
           nearest: Nearest | None) -> Group:
    keys = [_key(q) for q in questions]
    written = Counter(keys)
    shown: dict[str, str] = {}  # the first way a customer wrote each text
    for q, k in zip(questions, keys):
        shown.setdefault(k, q.question)
    rows = sorted({row_of[k] for k in keys})
    closeness = vectors[rows] @ vectors[rows].mean(axis=0)
    # the most central first; ties by how often customers wrote it
    order = sorted(range(len(rows)), key=lambda i: (-float(closeness[i]), -written[texts[rows[i]]]))
    central = rows[order[0]]
    found = nearest(shown[texts[central]], vectors[central]) if nearest else []
    times = [q.at for q in questions]
    return Group(questions, len({q.conversation_id for q in questions}), min(times), max(times),
                 [shown[texts[rows[i]]] for i in order[:EXAMPLES]], found)
