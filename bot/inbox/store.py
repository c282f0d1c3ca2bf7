"""The inbox's table (``unanswered``, in the hand-off database): one row per question the FAQ did
not answer well, with its conversation, what happened and the nearest entry.

Kinds: ``miss`` (no entry fitted), ``none_of_these`` (the customer refused every option of a
"did you mean"), ``not_helpful`` (the customer voted an answer not helpful: ``nearest_entry`` is
the entry that answered), ``clarify`` (options offered: kept to learn which questions are
ambiguous; not shown as a gap unless refused). Votes on answers (``answer_votes``: one per
conversation and entry, the latest counts) give each entry its helpful / not helpful figures.

Questions are stored with every kind of personal data masked
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

MISS, NONE_OF_THESE, NOT_HELPFUL, CLARIFY = "miss", "none_of_these", "not_helpful", "clarify"
PROPOSED = "proposed"  # an agent's reply on a resolved hand-off, suggested as an entry
KINDS_STORED = (MISS, NONE_OF_THESE, NOT_HELPFUL, CLARIFY, PROPOSED)
GAPS = (MISS, NONE_OF_THESE, NOT_HELPFUL, PROPOSED)  # what the inbox shows; a clarify becomes one when refused
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000  # an agent's message can be this long

unanswered = sa.Table(
    "unanswered", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("nearest_entry", sa.String(255)),  # the best-scoring entry, or the first option offered
    sa.Column("score", sa.Float),
    sa.Column("options", sa.Text),  # a clarify's offered entry ids, comma-separated
    sa.Column("proposed_answer", sa.Text),  # a proposed entry's answer (an agent's reply)
    sa.Column("proposed_by", sa.String(255)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)


answer_votes = sa.Table(
    "answer_votes", metadata,
    sa.Column("conversation_id", sa.String(255), primary_key=True),
    sa.Column("faq_id", sa.String(255), primary_key=True, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
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
    proposed_answer: str | None = None
    proposed_by: str | None = None


class InboxStore:
    def __init__(self, engine: sa.engine.Engine, region: str = DEFAULT_REGION):
        self.engine, self.region = engine, region
        metadata.create_all(engine, tables=[unanswered, answer_votes])

    def add(self, conversation_id: str, question: str, kind: str, nearest_entry: str | None = None,
            score: float | None = None, options: Iterable[str] = (), proposed_answer: str | None = None,
            proposed_by: str | None = None) -> int:
        if kind not in KINDS_STORED:
            raise ValueError(f"unknown inbox kind {kind!r}")
        with self.engine.begin() as conn:
            result = conn.execute(unanswered.insert().values(
                conversation_id=conversation_id, question=self._masked(question, MAX_QUESTION_CHARS), kind=kind,
                nearest_entry=nearest_entry, score=score, options=",".join(options) or None, at=utcnow(),
                proposed_answer=self._masked(proposed_answer, MAX_ANSWER_CHARS) if proposed_answer else None,
                proposed_by=proposed_by))
            return int(result.inserted_primary_key[0])

    def _masked(self, text: str, limit: int) -> str:
        return redact(text.strip()[:limit], KINDS, self.region)

    def propose(self, conversation_id: str, question: str, answer: str, agent: str) -> int:
        """An agent's reply to a customer's question, for an editor to turn into an entry; once per
        conversation (ValueError the second time)."""
        with self.engine.connect() as conn:
            if conn.execute(sa.select(unanswered.c.id).where(unanswered.c.conversation_id == conversation_id,
                                                             unanswered.c.kind == PROPOSED)).first():
                raise ValueError("this conversation's reply is already in the editors' inbox")
        return self.add(conversation_id, question, PROPOSED, proposed_answer=answer, proposed_by=agent)

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

    def vote(self, conversation_id: str, faq_id: str, question: str, helpful: bool) -> None:
        """The customer's vote on the answer ``faq_id`` gave to ``question``; a later vote of the same
        conversation on the same entry replaces it (and its inbox row)."""
        with self.engine.begin() as conn:
            conn.execute(answer_votes.delete().where(answer_votes.c.conversation_id == conversation_id,
                                                     answer_votes.c.faq_id == faq_id))
            conn.execute(answer_votes.insert().values(conversation_id=conversation_id, faq_id=faq_id,
                                                      helpful=helpful, at=utcnow()))
            conn.execute(unanswered.delete().where(unanswered.c.conversation_id == conversation_id,
                                                   unanswered.c.kind == NOT_HELPFUL,
                                                   unanswered.c.nearest_entry == faq_id))
        if not helpful:
            self.add(conversation_id, question, NOT_HELPFUL, faq_id)

    def votes(self) -> dict[str, tuple[int, int]]:
        """Per entry: (helpful, not helpful) votes."""
        v = answer_votes.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(v.faq_id, v.helpful, sa.func.count())
                                .group_by(v.faq_id, v.helpful)).all()
        out: dict[str, tuple[int, int]] = {}
        for faq_id, helpful, n in rows:
            yes, no = out.get(faq_id, (0, 0))
            out[faq_id] = (yes + int(n), no) if helpful else (yes, no + int(n))
        return out

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
                        row["options"].split(",") if row["options"] else [], aware(row["at"]),
                        row.get("proposed_answer"), row.get("proposed_by"))
