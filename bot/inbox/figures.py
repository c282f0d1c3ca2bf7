"""Each FAQ entry's figures from real traffic, as the editor's list shows them: times answered
(table ``faq_answers``, one row per answer given, an option chosen from a "did you mean" included),
times offered in a "did you mean", helpful / not helpful votes and misses whose nearest entry it was."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from bot.db import metadata, utcnow
from bot.inbox.store import CLARIFY, MISS, NONE_OF_THESE, answer_votes, unanswered

faq_answers = sa.Table(
    "faq_answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("faq_id", sa.String(255), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)
FIGURES = ("answered", "clarify_offers", "helpful", "not_helpful", "misses_near")
_created: set[int] = set()  # engines whose tables exist: not checked again on every answer


def _tables(engine: sa.engine.Engine) -> None:
    if id(engine) not in _created:
        metadata.create_all(engine, tables=[faq_answers, unanswered, answer_votes])
        _created.add(id(engine))


def record_answer(engine: sa.engine.Engine, conversation_id: str, faq_id: str) -> None:
    _tables(engine)
    with engine.begin() as conn:
        conn.execute(faq_answers.insert().values(conversation_id=conversation_id, faq_id=faq_id, at=utcnow()))


def entry_figures(engine: sa.engine.Engine) -> dict[str, dict[str, int]]:
    """Per entry id: each of ``FIGURES`` (entries without traffic are absent)."""
    _tables(engine)
    counts: dict[str, Counter[str]] = {}

    def add(faq_id: str | None, figure: str, n: int = 1) -> None:
        if faq_id:
            counts.setdefault(faq_id, Counter())[figure] += n

    u, v = unanswered.c, answer_votes.c
    with engine.connect() as conn:
        a = faq_answers.c
        for faq_id, n in conn.execute(sa.select(a.faq_id, sa.func.count()).group_by(a.faq_id)):
            add(faq_id, "answered", int(n))
        for (options,) in conn.execute(sa.select(u.options).where(u.kind.in_([CLARIFY, NONE_OF_THESE]))):
            for faq_id in (options or "").split(","):
                add(faq_id, "clarify_offers")
        for faq_id, helpful, n in conn.execute(sa.select(v.faq_id, v.helpful, sa.func.count())
                                               .group_by(v.faq_id, v.helpful)):
            add(faq_id, "helpful" if helpful else "not_helpful", int(n))
        for faq_id, n in conn.execute(sa.select(u.nearest_entry, sa.func.count()).where(u.kind == MISS)
                                      .group_by(u.nearest_entry)):
            add(faq_id, "misses_near", int(n))
    return {faq_id: {f: c.get(f, 0) for f in FIGURES} for faq_id, c in counts.items()}


def figures_json(figures: dict[str, dict[str, int]], faq_id: str) -> dict[str, Any]:
    return figures.get(faq_id) or dict.fromkeys(FIGURES, 0)
