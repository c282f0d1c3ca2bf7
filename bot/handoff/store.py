"""Durable hand-off store on SQLAlchemy: SQLite by default, PostgreSQL by URL.

Every state change is a conditional UPDATE (``... WHERE state IN allowed``), so two agents claiming
at once cannot both win, and every change is recorded with its time in ``handoff_transitions``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from bot.handoff.packet import HandoffPacket
from bot.handoff.states import ACTIVE, ALLOWED_FROM, ASSIGNED, QUEUED, HandoffNotFound, InvalidTransition

metadata = sa.MetaData()

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
)
messages = sa.Table(
    "handoff_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(32), sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),  # customer, agent, system
    sa.Column("author", sa.String(64)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
agents = sa.Table(
    "agents", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True)),
)
sessions = sa.Table(
    "agent_sessions", metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("agent", sa.String(64), sa.ForeignKey("agents.name"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
# Messages for the customer that arrive outside their own request (agent messages, status, the bot's
# follow-up): socket.io pushes them at once; REST clients get them on their next request or a poll.
feed = sa.Table(
    "customer_feed", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False, default=False),
)
outbox = sa.Table(
    "webhook_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(96), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("idempotency_key", "url"),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


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
        d["created_at"], d["updated_at"] = _aware(d["created_at"]), _aware(d["updated_at"])
        return cls(**d)


@dataclass
class Message:
    id: int
    handoff_id: str
    role: str
    author: str | None
    text: str
    at: datetime


def create_engine(url: str) -> sa.engine.Engine:
    if url.startswith("sqlite"):
        # a pool (SQLAlchemy 1.4 reopens SQLite files per query by default): the relay asks
        # "is this conversation handed off?" for every message
        in_file = sa.engine.make_url(url).database not in (None, "", ":memory:")
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  future=True, **({"poolclass": QueuePool} if in_file else {}))

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return sa.create_engine(url, pool_pre_ping=True, future=True)


class HandoffStore:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str) -> HandoffStore:
        return cls(create_engine(url))

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
        """1 for the longest-waiting queued hand-off; 0 when it is not queued."""
        h = self.get(handoff_id)
        if h.state != QUEUED:
            return 0
        with self.engine.connect() as conn:
            ahead = conn.execute(sa.select(sa.func.count()).select_from(handoffs).where(
                handoffs.c.state == QUEUED, handoffs.c.created_at < h.created_at)).scalar_one()
        return int(ahead) + 1

    def transition(self, handoff_id: str, to_state: str, actor: str | None = None,
                   agent: str | None = None) -> Handoff:
        """Atomically move to ``to_state``; raises InvalidTransition when another change won."""
        allowed = ALLOWED_FROM[to_state]
        values: dict[str, Any] = {"state": to_state, "updated_at": utcnow()}
        if to_state == ASSIGNED:
            values["agent"] = agent
        with self.engine.begin() as conn:
            current = conn.execute(sa.select(handoffs.c.state, handoffs.c.agent)
                                   .where(handoffs.c.id == handoff_id)).first()
            if current is None:
                raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")
            result = conn.execute(handoffs.update().where(
                handoffs.c.id == handoff_id, handoffs.c.state.in_(allowed)).values(**values))
            if result.rowcount != 1:
                fresh = conn.execute(sa.select(handoffs.c.state, handoffs.c.agent)
                                     .where(handoffs.c.id == handoff_id)).first()
                raise InvalidTransition(handoff_id, fresh.state, to_state, fresh.agent)
            conn.execute(transitions.insert().values(handoff_id=handoff_id, from_state=current.state,
                                                     to_state=to_state, at=values["updated_at"],
                                                     actor=actor or agent))
        return self.get(handoff_id)

    def history(self, handoff_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(transitions).where(transitions.c.handoff_id == handoff_id)
                                .order_by(transitions.c.id)).all()
        return [dict(r._mapping, at=_aware(r.at)) for r in rows]

    def set_customer_email(self, handoff_id: str, email: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(handoffs.update().where(handoffs.c.id == handoff_id)
                         .values(customer_email=email, updated_at=utcnow()))

    def rate(self, handoff_id: str, rating: int, comment: str | None = None) -> None:
        if not 1 <= rating <= 5:
            raise ValueError(f"a rating is a whole number from 1 to 5, got {rating}")
        with self.engine.begin() as conn:
            result = conn.execute(handoffs.update().where(handoffs.c.id == handoff_id)
                                  .values(rating=rating, rating_comment=comment))
        if result.rowcount != 1:
            raise HandoffNotFound(f"no hand-off with id {handoff_id!r}")

    # -- messages during the hand-off -------------------------------------------------------------
    def add_message(self, handoff_id: str, role: str, text: str, author: str | None = None) -> Message:
        at = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(messages.insert().values(handoff_id=handoff_id, role=role,
                                                           author=author, text=text, at=at))
            mid = result.inserted_primary_key[0]
        return Message(mid, handoff_id, role, author, text, at)

    def messages(self, handoff_id: str, after: int = 0) -> list[Message]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(messages).where(messages.c.handoff_id == handoff_id,
                                                          messages.c.id > after)
                                .order_by(messages.c.id)).all()
        return [Message(r.id, r.handoff_id, r.role, r.author, r.text, _aware(r.at)) for r in rows]

    # -- customer feed ------------------------------------------------------------------------------
    def feed_push(self, conversation_id: str, payload: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(feed.insert().values(conversation_id=conversation_id, at=utcnow(),
                                                       payload=json.dumps(payload), delivered=False))
            return int(result.inserted_primary_key[0])

    def feed_take(self, conversation_id: str) -> list[dict[str, Any]]:
        """Undelivered messages for the customer, oldest first, marked delivered. Each message is
        taken once, also when requests of one conversation race (a poll and a message)."""
        with self.engine.connect() as conn:  # asked on every customer message: read before writing
            rows = conn.execute(sa.select(feed.c.id, feed.c.payload).where(
                feed.c.conversation_id == conversation_id, feed.c.delivered.is_(False))
                .order_by(feed.c.id)).all()
        taken = []
        for row in rows:
            with self.engine.begin() as conn:  # only the request whose update wins delivers it
                claimed = conn.execute(feed.update().where(feed.c.id == row.id, feed.c.delivered.is_(False))
                                       .values(delivered=True)).rowcount
            if claimed:
                taken.append(json.loads(row.payload))
        return taken

    # -- agents and their sessions ----------------------------------------------------------------
    def add_agent(self, name: str, password_hash: str) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(agents.c.name).where(agents.c.name == name)).first()
            if exists:
                conn.execute(agents.update().where(agents.c.name == name)
                             .values(password_hash=password_hash))
            else:
                conn.execute(agents.insert().values(name=name, password_hash=password_hash,
                                                    created_at=utcnow()))

    def agent_hash(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(agents.c.password_hash)
                                .where(agents.c.name == name)).scalar_one_or_none()

    def agent_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(agents.c.name).order_by(agents.c.name)).scalars())

    def remove_agent(self, name: str) -> bool:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.agent == name))
            return conn.execute(agents.delete().where(agents.c.name == name)).rowcount == 1

    def create_session(self, agent: str, lifetime: timedelta) -> tuple[str, str]:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(token=token, agent=agent, csrf=csrf,
                                                  expires_at=utcnow() + lifetime))
            conn.execute(agents.update().where(agents.c.name == agent).values(last_seen=utcnow()))
        return token, csrf

    def session(self, token: str) -> tuple[str, str] | None:
        """(agent, csrf token) for a live session; refreshes the agent's last-seen time."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.token == token)).first()
            if row is None or _aware(row.expires_at) < utcnow():
                return None
            conn.execute(agents.update().where(agents.c.name == row.agent).values(last_seen=utcnow()))
        return row.agent, row.csrf

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.token == token))

    def agents_online(self, within: timedelta) -> list[str]:
        """Agents with a live session seen within ``within`` (the console polls, so it stays fresh)."""
        now = utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(agents.c.name, agents.c.last_seen).join(
                sessions, sessions.c.agent == agents.c.name).where(sessions.c.expires_at > now)).all()
        return sorted({r.name for r in rows if r.last_seen and _aware(r.last_seen) > now - within})

    # -- webhook outbox ---------------------------------------------------------------------------
    def enqueue_webhook(self, idempotency_key: str, url: str, body: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key,
                                                               outbox.c.url == url)).first()
            if exists is None:
                conn.execute(outbox.insert().values(idempotency_key=idempotency_key, url=url,
                                                    body=json.dumps(body), attempts=0,
                                                    next_attempt_at=utcnow()))

    def due_webhooks(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.delivered_at.is_(None),
                                                        outbox.c.next_attempt_at <= utcnow())
                                .order_by(outbox.c.id).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def webhook_delivered(self, outbox_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == outbox_id)
                         .values(delivered_at=utcnow(), attempts=outbox.c.attempts + 1, last_error=None))

    def webhook_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == outbox_id)
                         .values(attempts=outbox.c.attempts + 1, last_error=error[:2000],
                                 next_attempt_at=retry_at))

    def webhook_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).all()]
