"""Corpus checks that need the encoder: near-duplicate phrasings across different entries."""

from __future__ import annotations

import numpy as np

from bot.kb.corpus import Corpus, Issue
from bot.kb.index import make_faiss_index


def near_duplicates(corpus: Corpus, vectors: np.ndarray, owners: np.ndarray, texts: list[str],
                    level: float = 0.92, k: int = 10) -> list[Issue]:
    """Warn once per pair of entries whose phrasings are closer than ``level`` (cosine)."""
    if not 0 < level <= 1:
        raise ValueError("the near-duplicate level must be in (0, 1]")
    index = make_faiss_index(vectors)
    scores, ids = index.search(np.ascontiguousarray(vectors), min(k, len(texts)))
    worst: dict[tuple[int, int], tuple[float, int, int]] = {}
    for a, (row_scores, row_ids) in enumerate(zip(scores, ids)):
        for score, b in zip(row_scores, row_ids):
            if b < 0 or score < level or owners[a] == owners[b]:
                continue
            pair = (int(min(owners[a], owners[b])), int(max(owners[a], owners[b])))
            if pair not in worst or score > worst[pair][0]:
                worst[pair] = (float(score), a, int(b))
    issues = []
    for (i, j), (score, a, b) in sorted(worst.items()):
        first, second = corpus.entries[i], corpus.entries[j]
        issues.append(Issue(
            "warning", first.file, first.line, first.id,
            f"near-duplicate of entry '{second.id}' ({second.file}:{second.line}): "
            f"{texts[a]!r} ~ {texts[b]!r} (cosine {score:.2f}); merge them or reword one",
        ))
    return issues
