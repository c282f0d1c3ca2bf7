"""Every figure of a period, from the summary (conversations, FAQ decisions, bot-only ratings) and our
own tables (hand-offs with their transitions and messages, votes, answers given), read-only.

Conversations count on the business day of the customer's first message; hand-offs on the day they
were opened; bot-only ratings on the day they were given; votes and answers on the day they happened.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Sequence

import sqlalchemy as sa

from bot.analytics.period import Period, day_of
from bot.analytics.summary import bot_ratings, conversations
from bot.db import aware, metadata
from bot.handoff.packet import Reason
from bot.handoff.states import ASSIGNED, FINAL
from bot.handoff.store import handoffs, messages, transitions
from bot.inbox.figures import faq_answers
from bot.inbox.store import answer_votes

REASONS = [r.value for r in Reason]
TOP = 10


def p90(values: Sequence[float]) -> float | None:
    """The nearest-rank 90th percentile: the smallest value at least 90% of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent (one decimal), None when there is nothing to divide."""
    return round(100.0 * part / whole, 1) if whole else None


@dataclass
class Day:
    conversations: int = 0
    contained: int = 0
    answered: int = 0
    clarified: int = 0
    missed: int = 0
    chosen: int = 0
    refused: int = 0
    handoffs: Counter[str] = field(default_factory=Counter)
    first_reply: list[float] = field(default_factory=list)  # seconds, per hand-off
    handling: list[float] = field(default_factory=list)
    bot_ratings: list[int] = field(default_factory=list)
    person_ratings: list[int] = field(default_factory=list)

    def add(self, other: Day) -> None:
        for name in ("conversations", "contained", "answered", "clarified", "missed", "chosen", "refused"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.handoffs.update(other.handoffs)
        for name in ("first_reply", "handling", "bot_ratings", "person_ratings"):
            getattr(self, name).extend(getattr(other, name))

    @property
    def questions(self) -> int:
        """FAQ questions: customers' messages the FAQ decided on (answer, clarify or miss)."""
        return self.answered + self.clarified + self.missed


@dataclass
class Figures:
    period: Period
    days: dict[date, Day]
    total: Day
    votes: list[dict[str, Any]]  # per entry: id, helpful, not_helpful
    entries: list[dict[str, Any]]  # most answered: id, answered


def compute(store: sa.engine.Engine, period: Period) -> Figures:
    """The period's figures; the summary must have been refreshed first (``Summary.refresh``)."""
    metadata.create_all(store, tables=[handoffs, transitions, messages, faq_answers, answer_votes,
                                       conversations, bot_ratings])
    days = {d: Day() for d in period.days}

    def run(part: Any, *args: Any) -> Any:
        with store.connect() as conn:
            return part(conn, period, *args)

    # independent queries on their own connections: SQLite releases the GIL while it reads
    with ThreadPoolExecutor(max_workers=3) as pool:
        parts = [pool.submit(run, _handoffs, days), pool.submit(run, _conversations, days),
                 pool.submit(run, _entries), pool.submit(run, _votes), pool.submit(run, _bot_ratings, days)]
        _, _, entries, votes, _ = [p.result() for p in parts]
    total = Day()
    for d in days.values():
        total.add(d)
    return Figures(period, days, total, votes, entries)


def _conversations(conn: sa.engine.Connection, period: Period, days: dict[date, Day]) -> None:
    c = conversations.c
    handed = sa.select(handoffs.c.conversation_id).distinct().subquery()
    contained = sa.func.sum(sa.case((handed.c.conversation_id.is_(None), 1), else_=0))
    sums = (sa.func.sum(getattr(c, k)) for k in ("answered", "clarified", "missed", "chosen", "refused"))
    query = (sa.select(c.day, sa.func.count(), contained, *sums)
             .select_from(conversations.outerjoin(handed, handed.c.conversation_id == c.conversation_id))
             .where(c.day >= period.first, c.day <= period.last).group_by(c.day))
    for day, n, kept, answered, clarified, missed, chosen, refused in conn.execute(query):
        d = days[_date(day)]
        d.conversations, d.contained = int(n), int(kept or 0)
        d.answered, d.clarified, d.missed = int(answered or 0), int(clarified or 0), int(missed or 0)
        d.chosen, d.refused = int(chosen or 0), int(refused or 0)


def _bot_ratings(conn: sa.engine.Connection, period: Period, days: dict[date, Day]) -> None:
    r = bot_ratings.c
    query = sa.select(r.day, r.rating).where(r.day >= period.first, r.day <= period.last)
    for day, rating in conn.execute(query):
        days[_date(day)].bot_ratings.append(int(rating))


def _handoffs(conn: sa.engine.Connection, period: Period, days: dict[date, Day]) -> None:
    t, m, h = transitions.c, messages.c, handoffs.c

    sqlite = conn.dialect.name == "sqlite"

    def first(column: Any, *where: Any, latest: bool = False) -> Any:
        """One moment per hand-off, looked up through the hand-off id's index (not a whole-table group)."""
        return sa.select(sa.func.max(column) if latest else sa.func.min(column)).where(*where).scalar_subquery()

    def seconds(start: Any, end: Any) -> Any:
        """``end - start`` in seconds, computed by the database (no datetime parsing per row here)."""
        if sqlite:
            return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
        return sa.extract("epoch", end - start)

    claimed = first(t.at, t.handoff_id == h.id, t.to_state == ASSIGNED)
    ended = first(t.at, t.handoff_id == h.id, t.to_state.in_(FINAL), latest=True)
    replied = first(m.at, m.handoff_id == h.id, m.role == "agent")
    waited, handled = seconds(h.created_at, replied), seconds(claimed, ended)
    created_at = sa.type_coerce(h.created_at, sa.String) if sqlite else h.created_at  # parsed below, in C
    query = (sa.select(created_at, h.reason, h.rating, waited, handled)
             .where(h.created_at >= period.start_utc(), h.created_at < period.end_utc()))
    for created, reason, rating, first_reply, handling in conn.execute(query):
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        d = days.get(day_of(aware(created), period.tz))
        if d is None:
            continue
        d.handoffs[reason] += 1
        if first_reply is not None:
            d.first_reply.append(max(0.0, float(first_reply)))
        if handling is not None:
            d.handling.append(max(0.0, float(handling)))
        if rating is not None:
            d.person_ratings.append(int(rating))


def _votes(conn: sa.engine.Connection, period: Period) -> list[dict[str, Any]]:
    v = answer_votes.c
    per: dict[str, Counter[str]] = defaultdict(Counter)
    query = (sa.select(v.faq_id, v.helpful, sa.func.count())
             .where(v.at >= period.start_utc(), v.at < period.end_utc()).group_by(v.faq_id, v.helpful))
    for faq_id, helpful, n in conn.execute(query):
        per[faq_id]["helpful" if helpful else "not_helpful"] += int(n)
    rows = [{"id": k, "helpful": c["helpful"], "not_helpful": c["not_helpful"]} for k, c in per.items()]
    return sorted(rows, key=lambda r: (-(r["helpful"] + r["not_helpful"]), -r["not_helpful"], r["id"]))


def _entries(conn: sa.engine.Connection, period: Period) -> list[dict[str, Any]]:
    a = faq_answers.c
    n = sa.func.count().label("n")
    query = (sa.select(a.faq_id, n).where(a.at >= period.start_utc(), a.at < period.end_utc())
             .group_by(a.faq_id).order_by(n.desc(), a.faq_id).limit(TOP))
    return [{"id": faq_id, "answered": int(count)} for faq_id, count in conn.execute(query)]


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
