"""The editors' inbox as the editor page shows it: open questions grouped by meaning with the served
encoder (``bot.inbox.groups``), each group with its nearest entries, and what acting on it does."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from bot.editor.drafts import Side
from bot.inbox.groups import group_questions
from bot.inbox.store import GAPS, InboxStore

MAX_QUESTIONS = 2000  # the newest open questions grouped per request (about 2 s on 2 cores)
NEAREST = 3


def groups_json(store: InboxStore, live: Side, limit: int = MAX_QUESTIONS) -> dict[str, Any]:
    questions = store.questions(GAPS, limit)

    def encode(texts: list[str]) -> np.ndarray:
        return live.encoder.encode(texts, batch_size=64)

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
