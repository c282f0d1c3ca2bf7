"""The stored customer feed (table ``customer_feed``): messages for a customer that arrive outside
their own request (agent messages, status, the bot's follow-up), kept until their client has them:
REST clients take them on their next request or a poll; socket.io clients get each pushed with its
row id and acknowledge it, so a push lost with a dropping connection is sent again on reconnection."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from bot.db import metadata, utcnow
from bot.privacy.at_rest import AtRest

feed = sa.Table(
    "customer_feed", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False, default=False),
)


class FeedStore:
    """``at_rest``: the personal data masked before it is written (default: SUPPORTBOT_MASK_AT_REST's)."""

    def __init__(self, engine: sa.engine.Engine, at_rest: AtRest | None = None):
        self.engine = engine
        self.at_rest = at_rest or AtRest.default()
        metadata.create_all(engine, tables=[feed])

    def feed_push(self, conversation_id: str, payload: dict[str, Any]) -> int:
        payload = self.at_rest.payload(payload)
        with self.engine.begin() as conn:
            result = conn.execute(feed.insert().values(conversation_id=conversation_id, at=utcnow(),
                                                       payload=json.dumps(payload), delivered=False))
            return int(result.inserted_primary_key[0])

    def feed_pending(self, conversation_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Undelivered messages for the customer with their row ids, oldest first, left undelivered
        until :meth:`feed_ack` (a socket.io client's acknowledgement)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(feed.c.id, feed.c.payload).where(
                feed.c.conversation_id == conversation_id, feed.c.delivered.is_(False))
                .order_by(feed.c.id)).all()
        return [(row.id, json.loads(row.payload)) for row in rows]

    def feed_ack(self, conversation_id: str, ids: list[int]) -> int:
        """Marks the customer's messages with these ids delivered; another conversation's are left
        alone. Returns how many were marked."""
        if not ids:
            return 0
        with self.engine.begin() as conn:
            return int(conn.execute(feed.update().where(
                feed.c.conversation_id == conversation_id, feed.c.id.in_(ids), feed.c.delivered.is_(False))
                .values(delivered=True)).rowcount)

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
