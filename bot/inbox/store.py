"""The inbox's table (``unanswered``, in the hand-off database): one row per question the FAQ did
not answer well, with its conversation, what happened and the nearest entry.

Kinds: ``miss`` (no entry fitted), ``none_of_these`` (the customer refused every option of a
"did you mean"), ``clarify`` (options offered: kept to learn which questions are ambiguous; not
shown as a gap unless refused). Questions are stored with every kind of personal data masked
(emails, phone, card and IBAN numbers), whatever ``SUPPORTBOT_MASK_AT_REST`` says: editors read
them, customers' contact data is none of their business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa

from bot.db import aware, metadata, utcnow
from bot.handoff.redact import DEFAULT_REGION, KINDS, redact

MISS, NONE_OF_THESE, CLARIFY = "miss", "none_of_these", "clarify"
GAPS = (MISS, NONE_OF_THESE)  # what the inbox shows; a clarify becomes one when it is refused
MAX_QUESTION_CHARS = 1000

unanswered = sa.Table(
    "unanswered", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("nearest_entry", sa.String(255)),  # the best-scoring entry, or the first option offered
    sa.Column("score", sa.Float),
    sa.Column("options", sa.Text),  # a clarify's offered entry ids, comma-separated
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)


@dataclass(frozen=True)
class Question:
    id: int
    conversation_id: str
    question: str
    kind: str
    nearest_entry: str | None
    score: float | None
    options: list[str]
    at: datetime


class InboxStore:
    def __init__(self, engine: sa.engine.Engine, region: str = DEFAULT_REGION):
        self.engine, self.region = engine, region
        metadata.create_all(engine, tables=[unanswered])

    def add(self, conversation_id: str, question: str, kind: str, nearest_entry: str | None = None,
            score: float | None = None, options: Iterable[str] = ()) -> int:
        if kind not in (MISS, NONE_OF_THESE, CLARIFY):
            raise ValueError(f"unknown inbox kind {kind!r}")
        text = redact(question.strip()[:MAX_QUESTION_CHARS], KINDS, self.region)
        with self.engine.begin() as conn:
            result = conn.execute(unanswered.insert().values(
                conversation_id=conversation_id, question=text, kind=kind, nearest_entry=nearest_entry,
                score=score, options=",".join(options) or None, at=utcnow()))
            return int(result.inserted_primary_key[0])

    def refuse_latest_clarify(self, conversation_id: str) -> Question | None:
        """The customer said "none of these": their latest "did you mean" becomes a gap."""
        with self.engine.begin() as conn:
            latest = conn.execute(sa.select(unanswered).where(
                unanswered.c.conversation_id == conversation_id, unanswered.c.kind == CLARIFY)
                .order_by(unanswered.c.id.desc()).limit(1)).first()
            if latest is None:
                return None
            conn.execute(unanswered.update().where(unanswered.c.id == latest.id).values(kind=NONE_OF_THESE))
        return self._question(latest._mapping, kind=NONE_OF_THESE)

    def questions(self, kinds: Iterable[str] = GAPS, limit: int = 100) -> list[Question]:
        """The newest questions of ``kinds`` first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(unanswered).where(unanswered.c.kind.in_(list(kinds)))
                                .order_by(unanswered.c.id.desc()).limit(limit)).all()
        return [self._question(r._mapping) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(unanswered.c.kind, sa.func.count()).group_by(unanswered.c.kind)).all()
        return {kind: int(n) for kind, n in rows}

    @staticmethod
    def _question(row: sa.RowMapping, kind: str | None = None) -> Question:
        return Question(row["id"], row["conversation_id"], row["question"], kind or row["kind"],
                        row["nearest_entry"], row["score"],
                        row["options"].split(",") if row["options"] else [], aware(row["at"]))
