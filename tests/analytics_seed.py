"""A seeded set of conversations for the analytics tests, written as the stores hold them (Rasa's
``events`` rows, our hand-off, transition, message, vote and answer rows), and each conversation's
plain description, from which the tests compute the expected figures on their own."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

REASONS = ["user_request", "low_confidence", "frustration", "faq_unavailable"]
ENTRIES = ["shipping_time", "return_policy", "payment_methods", "track_order", "cancel_order"]


@dataclass
class Handoff:
    reason: str
    opened: float  # seconds after the conversation started
    claimed: float | None  # seconds after opening
    replied: float | None  # first agent message, seconds after opening
    ended: float | None  # seconds after claiming
    rating: int | None


@dataclass
class Seeded:
    conversation_id: str
    start: datetime
    turns: list[str]  # answer, clarify, miss, chosen, refused, in order
    handoff: Handoff | None = None
    bot_rating: int | None = None
    votes: list[tuple[str, bool]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # entries that answered (faq_answers)


def scenario(n: int, first_day: datetime, days: int, seed: int = 7, prefix: str = "c") -> list[Seeded]:
    """``n`` conversations over ``days`` days from ``first_day`` (UTC), some near midnight."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        start = first_day + timedelta(days=rnd.randrange(days), seconds=rnd.choice(
            [rnd.randrange(86400), 86400 - rnd.randrange(1, 3600), rnd.randrange(3600)]))
        turns: list[str] = []
        for _ in range(rnd.randint(0, 4)):
            kind = rnd.choice(["answer", "answer", "answer", "clarify", "miss"])
            turns.append(kind)
            if kind == "clarify":
                turns.append(rnd.choice(["chosen", "refused", "none"]))
        turns = [t for t in turns if t != "none"]
        s = Seeded(f"{prefix}{i:06d}-{rnd.randrange(10**6)}", start, turns)
        if rnd.random() < 0.3:
            claimed = rnd.choice([None, rnd.uniform(5, 900)])
            s.handoff = Handoff(rnd.choice(REASONS), rnd.uniform(10, 7200), claimed,
                                rnd.choice([None, rnd.uniform(1, 1800)]),
                                rnd.choice([None, rnd.uniform(30, 3600)]) if claimed is not None else None,
                                rnd.choice([None, 1, 2, 3, 4, 5]))
        elif turns and rnd.random() < 0.4:
            s.bot_rating = rnd.randint(1, 5)
        s.answers = [rnd.choice(ENTRIES) for t in turns if t in ("answer", "chosen")]
        s.votes = [(e, rnd.random() < 0.6) for e in sorted(set(s.answers)) if rnd.random() < 0.5]
        out.append(s)
    return out


def events_of(s: Seeded, rnd: random.Random) -> list[dict[str, Any]]:
    """Rasa's events for ``s`` (with the action and session events a real one has around them)."""
    t = s.start.timestamp()
    out: list[dict[str, Any]] = [{"event": "action", "timestamp": t - 1, "name": "action_session_start"},
                                 {"event": "session_started", "timestamp": t - 1}]

    def user(text: str, intent: str, entities: list | None = None) -> None:
        nonlocal t
        t += rnd.uniform(1, 30) if any(e["event"] == "user" for e in out) else 0  # the first at ``start``
        out.append({"event": "user", "timestamp": t, "text": text,
                    "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}})

    def bot(decision: str | None, text: str = "...") -> None:
        out.append({"event": "action", "timestamp": t + 0.1, "name": "action_answer_faq"})
        meta = {"faq_decision": decision, "faq_id": ENTRIES[0]} if decision else {}
        out.append({"event": "bot", "timestamp": t + 0.2, "text": text, "data": {}, "metadata": meta})

    for turn in s.turns:
        if turn == "chosen":
            user('/choose_faq{"faq_id": "x"}', "choose_faq")
            bot("chosen")
        elif turn == "refused":
            user("/none_of_these", "none_of_these")
            bot("miss")
        else:
            user("a question", "faq")
            bot(turn)
    if not s.turns:
        user("hello", "greet")
        bot(None, "Hi!")
    if s.bot_rating is not None:
        user("bye", "goodbye")
        bot(None, "How did I do?")
        if s.bot_rating % 2:  # a typed rating
            user(f"{s.bot_rating} - fine", "rate")
        else:  # a button
            user(f'/rate{{"rating": {s.bot_rating}}}', "rate",
                 [{"entity": "rating", "value": str(s.bot_rating)}])
        out.append({"event": "slot", "timestamp": t + 0.3, "name": "bot_rating", "value": "rated"})
    elif s.handoff is not None:
        user("talk to a person", "human")
        out.append({"event": "slot", "timestamp": t + 0.3, "name": "bot_rating", "value": None})
    return out


def write_events(tracker: sa.engine.Engine, rows: list[tuple[str, dict[str, Any]]]) -> None:
    from bot.analytics.summary import events

    events.metadata.create_all(tracker)
    with tracker.begin() as conn:
        conn.execute(events.insert(), [
            {"sender_id": sender, "type_name": e["event"], "timestamp": e["timestamp"],
             "intent_name": (e.get("parse_data") or {}).get("intent", {}).get("name"),
             "data": json.dumps(e)} for sender, e in rows])


def write_store(store: sa.engine.Engine, seeded: list[Seeded]) -> None:
    """Hand-offs, transitions, agent messages, votes and answers as our stores keep them."""
    from bot.db import metadata
    from bot.handoff.store import handoffs, messages, transitions
    from bot.inbox.figures import faq_answers
    from bot.inbox.store import answer_votes

    metadata.create_all(store, tables=[handoffs, transitions, messages, faq_answers, answer_votes])
    with store.begin() as conn:
        for s in seeded:
            for entry in s.answers:
                conn.execute(faq_answers.insert().values(conversation_id=s.conversation_id, faq_id=entry,
                                                         at=s.start + timedelta(seconds=5)))
            for entry, helpful in s.votes:
                conn.execute(answer_votes.insert().values(conversation_id=s.conversation_id, faq_id=entry,
                                                          helpful=helpful, at=s.start + timedelta(seconds=9)))
            h = s.handoff
            if h is None:
                continue
            hid, opened = "h" + s.conversation_id[:31], s.start + timedelta(seconds=h.opened)
            conn.execute(handoffs.insert().values(
                id=hid, conversation_id=s.conversation_id, channel="rest", reason=h.reason, state="queued",
                created_at=opened, updated_at=opened, ticket=False, packet="{}", rating=h.rating))
            conn.execute(transitions.insert().values(handoff_id=hid, from_state=None, to_state="queued",
                                                     at=opened, actor="bot"))
            if h.claimed is not None:
                claimed = opened + timedelta(seconds=h.claimed)
                conn.execute(transitions.insert().values(handoff_id=hid, from_state="queued",
                                                         to_state="assigned", at=claimed, actor="ana"))
                if h.ended is not None:
                    conn.execute(transitions.insert().values(
                        handoff_id=hid, from_state="assigned", to_state="resolved",
                        at=claimed + timedelta(seconds=h.ended), actor="ana"))
            conn.execute(messages.insert().values(handoff_id=hid, role="customer", text="hi", at=opened))
            if h.replied is not None:
                for k in range(2):  # the first of two agent messages counts
                    conn.execute(messages.insert().values(
                        handoff_id=hid, role="agent", author="ana", text="hello",
                        at=opened + timedelta(seconds=h.replied + 60 * k)))


def seed(tracker: sa.engine.Engine, store: sa.engine.Engine, seeded: list[Seeded], seed: int = 3) -> None:
    """Write ``seeded``'s events interleaved across conversations, as a busy bot stores them."""
    rnd = random.Random(seed)
    rows = [(s.conversation_id, e) for s in seeded for e in events_of(s, rnd)]
    rows.sort(key=lambda r: r[1]["timestamp"])
    write_events(tracker, rows)
    write_store(store, seeded)


UTC = timezone.utc
