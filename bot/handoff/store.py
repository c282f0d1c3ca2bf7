"""Durable hand-offs, their transitions and messages, on SQLAlchemy: SQLite by default, PostgreSQL
by URL (``bot.db``).

Every state change is a conditional UPDATE (``... WHERE state IN allowed``), so two agents claiming
at once cannot both win, and every change is recorded with its time in ``handoff_transitions``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.db import aware, engine, metadata, utcnow
from bot.handoff.customer_input import RATINGS, is_email
from bot.handoff.packet import HandoffPacket
from bot.handoff.states import (
    ACTIVE,
    ALLOWED_FROM,
    ASSIGNED,
    QUEUED,
    AlreadyRated,
    HandoffNotFound,
    InvalidTransition,
)
from bot.privacy.at_rest import AtRest

handoffs = sa.Table(
    "handoffs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("agent", sa.String(64)),
    sa.Column("first_question", sa.Text),
    sa.Column("customer_email", sa.String(320)),
    sa.Column("ticket", sa.Boolean, nullable=False, default=False),  # queued with nobody to take it live
    sa.Column("packet", sa.Text, nullable=False),
    sa.Column("rating", sa.Integer),
    sa.Column("rating_comment", sa.Text),
)
transitions = sa.Table(
    "handoff_transitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(32), sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64)),
    sa.Column("agent", sa.String(64)),  # who holds it after this change (a claim, a transfer)
)
messages = sa.Table(
    "handoff_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(32), sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),  # customer, agent, bot, system, note (staff only)
    sa.Column("author", sa.String(64)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
NOTE = "note"  # a message role: staff's internal note, never shown or sent to the customer


def _migrate(engine: sa.engine.Engine) -> None:
    """Databases from before transfers: ``handoff_transitions.agent`` added (nullable, rows kept)."""
    if "agent" in {c["name"] for c in sa.inspect(engine).get_columns("handoff_transitions")}:
        return
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE handoff_transitions ADD COLUMN agent VARCHAR(64)"))
    except sa.exc.DBAPIError:
        if "agent" not in {c["name"] for c in sa.inspect(engine).get_columns("handoff_transitions")}:
            raise


@dataclass
class Handoff:
    id: str
    conversation_id: str
    channel: str
    reason: str
    state: str
    created_at: datetime
    updated_at: datetime
    agent: str | None
    first_question: str | None
    customer_email: str | None
    ticket: bool
    packet: HandoffPacket
    rating: int | None
    rating_comment: str | None

    @classmethod
    def from_row(cls, row: Any) -> Handoff:
        d = dict(row._mapping)
        d["packet"] = HandoffPacket.from_json(d["packet"])
        d["created_at"], d["updated_at"] = aware(d["created_at"]), aware(d["updated_at"])
        return cls(**d)


@dataclass
class Message:
    id: int
    handoff_id: str
    role: str
    author: str | None
    text: str
    at: datetime


class HandoffStore:
    """``at_rest``: the personal data masked before it is written (default: SUPPORTBOT_MASK_AT_REST's)."""

    def __init__(self, engine: sa.engine.Engine, at_rest: AtRest | None = None):
        self.engine = engine
        self.at_rest = at_rest or AtRest.default()
        metadata.create_all(engine, tables=[handoffs, transitions, messages])
        _migrate(engine)

    @classmethod
    def from_url(cls, url: str, at_rest: AtRest | None = None) -> HandoffStore:
        return cls(engine(url), at_rest)

    # -- hand-offs ------------------------------------------------------------------------------
    def open(self, packet: HandoffPacket, ticket: bool = False) -> tuple[Handoff, bool]:
        """Store a new hand-off, or return the conversation's active one. (hand-off, created?)"""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(handoffs).where(
                handoffs.c.conversation_id == packet.conversation_id,
                handoffs.c.state.in_(ACTIVE))).first()
            if row is not None:
                return Handoff.from_row(row), False
            now = utcnow()
            hid = secrets.token_hex(16)
            packet = self.at_rest.packet(packet)
            conn.execute(handoffs.insert().values(
                id=hid, conversation_id=packet.conversation_id, channel=packet.channel,
                reason=packet.reason.value, state=QUEUED, created_at=now, updated_at=now,
                first_question=packet.summary.first_question, customer_email=packet.customer.email,
                ticket=ticket, packet=packet.to_json()))
            conn.execute(transitions.insert().values(handoff_id=hid, from_state=None, to_state=QUEUED,
                                                     at=now, actor="bot"))
        return self.get(hid), True

    def get(self, handoff_id: str) -> Handoff:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(handoffs).where(handoffs.c.id == handoff_id)).first()
        if row is None:
            raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")
        return Handoff.from_row(row)

    def active_for(self, conversation_id: str) -> Handoff | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(handoffs).where(
                handoffs.c.conversation_id == conversation_id,
                handoffs.c.state.in_(ACTIVE))).first()
        return Handoff.from_row(row) if row else None

    def latest_for(self, conversation_id: str) -> Handoff | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(handoffs).where(handoffs.c.conversation_id == conversation_id)
                               .order_by(handoffs.c.created_at.desc()).limit(1)).first()
        return Handoff.from_row(row) if row else None

    def list_handoffs(self, states: tuple[str, ...] = ACTIVE, limit: int = 200) -> list[Handoff]:
        """Oldest first: the longest-waiting customer is at the top of the queue."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(handoffs).where(handoffs.c.state.in_(states))
                                .order_by(handoffs.c.created_at).limit(limit)).all()
        return [Handoff.from_row(r) for r in rows]

    def queue_position(self, handoff_id: str) -> int:
        """1 for the longest-waiting queued hand-off of its kind; 0 when it is not queued. Live chats
        and tickets are separate queues: a live customer counts only live customers ahead."""
        h = self.get(handoff_id)
        if h.state != QUEUED:
            return 0
        with self.engine.connect() as conn:
            ahead = conn.execute(sa.select(sa.func.count()).select_from(handoffs).where(
                handoffs.c.state == QUEUED, handoffs.c.ticket == h.ticket,
                handoffs.c.created_at < h.created_at)).scalar_one()
        return int(ahead) + 1

    def transition(self, handoff_id: str, to_state: str, actor: str | None = None,
                   agent: str | None = None, holder: str | None = None) -> Handoff:
        """Atomically move to ``to_state``; raises InvalidTransition when another change won
        (with ``holder``, also when the hand-off was transferred away from them meanwhile)."""
        allowed = ALLOWED_FROM[to_state]
        values: dict[str, Any] = {"state": to_state, "updated_at": utcnow()}
        if to_state == ASSIGNED:
            values["agent"] = agent
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(handoffs.c.state, handoffs.c.agent)
                                   .where(handoffs.c.id == handoff_id)).first()
            if current is None:
                raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")
            held = [handoffs.c.agent == holder] if holder else []
            result = conn.execute(handoffs.update().where(
                handoffs.c.id == handoff_id, handoffs.c.state.in_(allowed), *held).values(**values))
            if result.rowcount != 1:
                fresh = conn.execute(sa.select(handoffs.c.state, handoffs.c.agent)
                                     .where(handoffs.c.id == handoff_id)).first()
                raise InvalidTransition(handoff_id, fresh.state, to_state, fresh.agent)
            conn.execute(transitions.insert().values(handoff_id=handoff_id, from_state=current.state,
                                                     to_state=to_state, at=values["updated_at"],
                                                     actor=actor or agent, agent=values.get("agent")))
        return self.get(handoff_id)

    def reassign(self, handoff_id: str, holder: str, to_agent: str, actor: str,
                 note: str | None = None) -> Handoff:
        """Hand an assigned hand-off from ``holder`` to ``to_agent`` (a transfer): one conditional
        UPDATE, so of two changes at once exactly one wins; recorded as assigned -> assigned, with
        the internal ``note`` (if any) in the same transaction: both are stored or neither."""
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(handoffs.update().where(
                handoffs.c.id == handoff_id, handoffs.c.state == ASSIGNED, handoffs.c.agent == holder)
                .values(agent=to_agent, updated_at=now))
            if result.rowcount != 1:
                fresh = conn.execute(sa.select(handoffs.c.state, handoffs.c.agent)
                                     .where(handoffs.c.id == handoff_id)).first()
                if fresh is None:
                    raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")
                raise InvalidTransition(handoff_id, fresh.state, f"transferred from {holder}", fresh.agent)
            conn.execute(transitions.insert().values(handoff_id=handoff_id, from_state=ASSIGNED,
                                                     to_state=ASSIGNED, at=now, actor=actor, agent=to_agent))
            if note is not None:
                self.add_message(handoff_id, NOTE, note, author=actor, conn=conn)
        return self.get(handoff_id)

    def history(self, handoff_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(transitions).where(transitions.c.handoff_id == handoff_id)
                                .order_by(transitions.c.id)).all()
        return [dict(r._mapping, at=aware(r.at)) for r in rows]

    def set_customer_email(self, handoff_id: str, email: str) -> None:
        if not is_email(email):
            raise ValueError(f"not an email address: {email[:80]!r}; write it like name@example.com")
        with self.engine.begin() as conn:
            result = conn.execute(handoffs.update().where(handoffs.c.id == handoff_id)
                                  .values(customer_email=self.at_rest.email(email), updated_at=utcnow()))
        if result.rowcount != 1:
            raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")

    def rate(self, handoff_id: str, rating: int, comment: str | None = None) -> None:
        """The customer's rating, once: a second one raises AlreadyRated and the first one stays."""
        if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
            raise ValueError(f"a rating is a whole number from 1 to 5, got {rating!r}")
        with self.engine.begin() as conn:
            result = conn.execute(handoffs.update().where(
                handoffs.c.id == handoff_id, handoffs.c.rating.is_(None))
                .values(rating=rating, rating_comment=self.at_rest.optional(comment)))
            if result.rowcount != 1:
                row = conn.execute(sa.select(handoffs.c.rating).where(handoffs.c.id == handoff_id)).first()
                if row is None:
                    raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")
                raise AlreadyRated(handoff_id, row.rating)

    # -- messages during the hand-off -------------------------------------------------------------
    def add_message(self, handoff_id: str, role: str, text: str, author: str | None = None,
                    conn: sa.engine.Connection | None = None) -> Message:
        """``conn``: inside the caller's transaction (with what else it stores), else in its own."""
        at, text = utcnow(), self.at_rest.text(text)
        values = dict(handoff_id=handoff_id, role=role, author=author, text=text, at=at)
        if conn is None:
            with self.engine.begin() as own:
                mid = own.execute(messages.insert().values(**values)).inserted_primary_key[0]
        else:
            mid = conn.execute(messages.insert().values(**values)).inserted_primary_key[0]
        return Message(mid, handoff_id, role, author, text, at)

    def messages(self, handoff_id: str, after: int = 0, notes: bool = False) -> list[Message]:
        """Without ``notes`` (the default) staff's internal notes are left out: no reader that
        forgets to ask for them can pass one on to a customer or another system."""
        where = [messages.c.handoff_id == handoff_id, messages.c.id > after]
        if not notes:
            where.append(messages.c.role != NOTE)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(messages).where(*where).order_by(messages.c.id)).all()
        return [Message(r.id, r.handoff_id, r.role, r.author, r.text, aware(r.at)) for r in rows]
