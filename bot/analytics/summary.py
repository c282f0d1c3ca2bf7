"""The summary the analytics read instead of the whole tracker: one row per conversation (its
business day, its FAQ decisions) and one per rating of a bot-only conversation, in the hand-off
database, folded in from Rasa's ``events`` table from a watermark (the last event id read).

Only the tracker is read, never written. Each refresh reads the events after the watermark in
id windows and writes the new rows and the new watermark in one transaction, conditional on the
watermark it started from: two refreshes at once (the page and ``supportbot report``) cannot count
an event twice. Before reading on, it checks that the events up to the watermark are the ones it
counted; when some were deleted (``supportbot purge`` / ``forget``) or the time zone changed, the
summary is rebuilt from the start, so it never keeps a forgotten conversation or a stale figure.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

import sqlalchemy as sa

from bot.analytics.period import day_of
from bot.db import metadata
from bot.db import tracker_events as events  # Rasa's table, read only
from bot.handoff.customer_input import parse_rating

state = sa.Table(
    "analytics_state", metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
)
conversations = sa.Table(
    "analytics_conversations", metadata,
    sa.Column("conversation_id", sa.String(255), primary_key=True),
    sa.Column("day", sa.Date, index=True),  # the business day of the customer's first message
    sa.Column("last_intent", sa.String(255)),  # the latest customer message's intent
    sa.Column("pending_rating", sa.Integer),  # the latest message's rating, until the bot takes it
    *(sa.Column(name, sa.Integer, nullable=False, default=0)
      for name in ("answered", "clarified", "missed", "chosen", "refused")),
)
bot_ratings = sa.Table(
    "analytics_bot_ratings", metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("rating", sa.Integer, nullable=False),
)
TABLES = [state, conversations, bot_ratings]
COUNTS = ("answered", "clarified", "missed", "chosen", "refused")
RATE_INTENT = "rate"  # data/rules.yml: a rating runs action_rate
NONE_INTENT = "none_of_these"  # bot.conversation.faq_turn.NONE_INTENT (a unit test checks)
RATING_SLOT, RATED = "bot_rating", "rated"  # bot.conversation.closing (a unit test checks)
DECISION_COUNT = {"answer": "answered", "clarify": "clarified", "miss": "missed", "chosen": "chosen"}
WINDOW = 20_000  # event ids per window
_CHUNK = 500


@dataclass
class Conversation:
    conversation_id: str
    day: date | None = None
    last_intent: str | None = None
    pending_rating: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    def row(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "day": self.day, "last_intent": self.last_intent,
                "pending_rating": self.pending_rating, **self.counts}


@dataclass(frozen=True)
class Freshness:
    """Where a refresh left the summary: events folded in now, events still to read, rebuilt?"""

    read: int
    behind: int
    rebuilt: bool
    watermark: int

    def to_json(self) -> dict[str, Any]:
        return {"read": self.read, "behind": self.behind, "rebuilt": self.rebuilt, "watermark": self.watermark}


def _wanted() -> Any:
    """The events a figure needs: customer messages, FAQ replies and the bot-only rating's slot."""
    e = events.c
    return sa.or_(e.type_name == "user",
                  sa.and_(e.type_name == "bot", e.data.like('%"faq_decision"%')),
                  sa.and_(e.type_name == "slot", e.data.like(f'%"{RATING_SLOT}"%')))


def apply(conv: Conversation, row: Any, tz: str, ratings: list[dict[str, Any]]) -> None:
    """Fold one event (``id, type_name, timestamp, intent_name, data``) into ``conv``."""
    if row.type_name == "user":
        if conv.day is None and row.timestamp is not None:
            conv.day = day_of(row.timestamp, tz)
        conv.last_intent = row.intent_name
        conv.pending_rating = None
        if row.intent_name == RATE_INTENT and row.data:
            data = json.loads(row.data)
            entity = next((e.get("value") for e in (data.get("parse_data") or {}).get("entities") or []
                           if e.get("entity") == "rating"), None)
            conv.pending_rating = parse_rating(str(data.get("text") or ""), entity)[0]
        return
    data = json.loads(row.data or "{}")
    if row.type_name == "bot":
        count = DECISION_COUNT.get(str((data.get("metadata") or {}).get("faq_decision")))
        if count == "missed" and conv.last_intent == NONE_INTENT:
            count = "refused"
        if count:
            conv.counts[count] += 1
    elif data.get("name") == RATING_SLOT and data.get("value") == RATED and conv.pending_rating:
        ratings.append({"event_id": row.id, "conversation_id": conv.conversation_id,
                        "day": day_of(row.timestamp, tz) if row.timestamp is not None else conv.day,
                        "rating": conv.pending_rating})
        conv.pending_rating = None


class Summary:
    """``tracker``: the engine holding Rasa's events (None: no conversations yet); ``store``: ours."""

    def __init__(self, tracker: sa.engine.Engine | None, store: sa.engine.Engine, tz: str = "UTC",
                 window: int = WINDOW):
        self.tracker, self.store, self.tz, self.window = tracker, store, tz, window
        metadata.create_all(store, tables=TABLES)
        try:
            with store.begin() as conn:
                if conn.execute(sa.select(state.c.key).where(state.c.key == "watermark")).first() is None:
                    conn.execute(state.insert(), self._start())
        except sa.exc.IntegrityError:  # another process started it at the same moment
            pass

    def _start(self) -> list[dict[str, str]]:
        return [{"key": "watermark", "value": "0"}, {"key": "counted", "value": "0"},
                {"key": "tz", "value": self.tz}]

    def _state(self) -> dict[str, str]:
        with self.store.connect() as conn:
            return dict(conn.execute(sa.select(state.c.key, state.c.value)).all())

    def _has_events(self) -> bool:
        return self.tracker is not None and sa.inspect(self.tracker).has_table("events")

    def refresh(self, budget: float | None = None) -> Freshness:
        """Fold in the events after the watermark: all of them, or windows until ``budget`` seconds
        have passed (the page's request stays short; the rest is read on the next one)."""
        if not self._has_events():
            return Freshness(0, 0, False, 0)
        assert self.tracker is not None
        started, read, rebuilt = time.perf_counter(), 0, False
        current = self._state()
        wm, counted = int(current.get("watermark", 0)), int(current.get("counted", 0))
        with self.tracker.connect() as conn:
            top = conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0
            still = conn.execute(sa.select(sa.func.count()).select_from(events)
                                 .where(events.c.id <= wm)).scalar_one()
        if still != counted or current.get("tz", self.tz) != self.tz:
            if not self._reset(current):
                return self.refresh(budget)  # another refresh reset it first
            wm, counted, rebuilt = 0, 0, True
        while wm < top:
            upto = min(wm + self.window, top)
            window_events = self._fold(wm, upto, counted)
            if window_events is None:  # another refresh moved the watermark: carry on from there
                current = self._state()
                wm, counted = int(current.get("watermark", 0)), int(current.get("counted", 0))
                continue
            read += window_events
            wm, counted = upto, counted + window_events
            if budget is not None and time.perf_counter() - started > budget:
                break
        behind = 0
        if wm < top:
            with self.tracker.connect() as conn:
                behind = conn.execute(sa.select(sa.func.count()).select_from(events)
                                      .where(events.c.id > wm, events.c.id <= top)).scalar_one()
        return Freshness(read, int(behind), rebuilt, wm)

    def _reset(self, seen: dict[str, str]) -> bool:
        with self.store.begin() as conn:
            if dict(conn.execute(sa.select(state.c.key, state.c.value)).all()) != seen:
                return False
            for table in TABLES:
                conn.execute(table.delete())
            conn.execute(state.insert(), self._start())
        return True

    def _fold(self, after: int, upto: int, counted: int) -> int | None:
        """Fold the events with ids in (after, upto]; the number of events there, or None when the
        watermark was no longer ``after`` (nothing written)."""
        assert self.tracker is not None
        e = events.c
        data = sa.case((sa.and_(e.type_name == "user", e.intent_name != RATE_INTENT), sa.null()), else_=e.data)
        with self.tracker.connect() as conn:
            in_window = conn.execute(sa.select(sa.func.count()).select_from(events)
                                     .where(e.id > after, e.id <= upto)).scalar_one()
            rows = conn.execute(sa.select(e.id, e.sender_id, e.type_name, e.timestamp, e.intent_name,
                                          data.label("data"))
                                .where(e.id > after, e.id <= upto, _wanted()).order_by(e.id)).all()
        convs = self._load({r.sender_id for r in rows})
        ratings: list[dict[str, Any]] = []
        for row in rows:
            conv = convs.setdefault(row.sender_id, Conversation(row.sender_id))
            apply(conv, row, self.tz, ratings)
        try:
            with self.store.begin() as conn:
                moved = conn.execute(state.update().where(state.c.key == "watermark",
                                                          state.c.value == str(after)).values(value=str(upto)))
                if moved.rowcount != 1:
                    raise _Moved()
                conn.execute(state.update().where(state.c.key == "counted")
                             .values(value=str(counted + in_window)))
                for chunk in _chunks(list(convs)):
                    conn.execute(conversations.delete().where(conversations.c.conversation_id.in_(chunk)))
                if convs:
                    conn.execute(conversations.insert(), [c.row() for c in convs.values()])
                if ratings:
                    conn.execute(bot_ratings.insert(), ratings)
        except _Moved:
            return None
        return int(in_window)

    def _load(self, ids: Iterable[str]) -> dict[str, Conversation]:
        found: dict[str, Conversation] = {}
        c = conversations.c
        with self.store.connect() as conn:
            for chunk in _chunks(sorted(ids)):
                for r in conn.execute(sa.select(conversations).where(c.conversation_id.in_(chunk))):
                    counts = {k: getattr(r, k) for k in COUNTS}
                    found[r.conversation_id] = Conversation(r.conversation_id, r.day, r.last_intent,
                                                            r.pending_rating, counts)
        return found


class _Moved(Exception):
    """Another refresh moved the watermark first."""


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]
