"""The editors' inbox as the editor page shows it: open questions grouped by meaning with the served
encoder (``bot.inbox.groups``), each group with its nearest entries, and what acting on it does."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bot.editor.drafts import Side
from bot.inbox.groups import group_questions
from bot.inbox.store import GAPS, InboxStore, Question
from bot.kb.index import embed_phrasings

MAX_QUESTIONS = 2000  # the newest open questions grouped (clustering is quadratic: ~1 s for 2000)
NEAREST = 3


class InboxGroups:
    """The groups, computed again only when the open questions or the serving version changed;
    texts are encoded through the index's embedding cache, so only new questions cost an encoding."""

    def __init__(self, store: InboxStore, index_dir: Path, limit: int = MAX_QUESTIONS):
        self.store, self.index_dir, self.limit = store, index_dir, limit
        self._lock = threading.Lock()
        self._last: tuple[tuple, dict[str, Any]] | None = None

    def get(self, live: Side) -> dict[str, Any]:
        with self._lock:
            questions = self.store.questions(GAPS, self.limit)
            key = (live.version.name, tuple(q.id for q in questions))
            if self._last is None or self._last[0] != key:
                self._last = (key, groups_json(self.store, live, questions, self.index_dir))
            return self._last[1]


def groups_json(store: InboxStore, live: Side, questions: list[Question],
                index_dir: Path | None = None) -> dict[str, Any]:
    def encode(texts: list[str]) -> np.ndarray:
        if index_dir is None:
            return live.encoder.encode(texts, batch_size=64)
        return embed_phrasings(index_dir, live.encoder, texts)[0]

    def nearest(text: str, vector: np.ndarray) -> list[tuple[str, float]]:
        hits = live.version.search(vector.reshape(1, -1), 20, [text])[0]
        return [(h.entry_id, h.score) for h in hits[:NEAREST]]

    out = []
    for g in group_questions(questions, encode, nearest):
        proposed = [q for q in g.questions if q.proposed_answer]
        out.append({
            "question_ids": [q.id for q in g.questions], "count": g.count, "customers": g.customers,
            "first_seen": g.first_seen.isoformat(), "last_seen": g.last_seen.isoformat(),
            "examples": g.examples, "kinds": dict(Counter(q.kind for q in g.questions)),
            "conversations": sorted({q.conversation_id for q in g.questions})[:10],
            "nearest": [{"id": i, "score": round(s, 4), "question": live.version.by_id[i].question}
                        for i, s in g.nearest if i in live.version.by_id],
            "proposed": [{"question": q.question, "answer": q.proposed_answer, "by": q.proposed_by}
                         for q in proposed[:3]]})
    open_questions = sum(n for kind, n in store.counts().items() if kind in GAPS)
    return {"groups": out, "open": open_questions, "handled": store.handled_counts(),
            "shown_questions": len(questions)}
