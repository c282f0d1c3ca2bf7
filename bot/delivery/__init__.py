"""Deliver this to that customer: stored in the feed first, then pushed live where their client is
connected (carrying ``delivery_id``, the feed row, which a socket.io client acknowledges); what is
not acknowledged waits for their next request or reconnection. At least once: clients drop a
``delivery_id`` they already have.

Channels that hold live connections register a pusher (``Delivery.add_pusher``); a pub/sub pusher
that reaches connections held by other nodes plugs in the same way.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, cast

from bot.delivery.feed import FeedStore
from bot.wire import CustomerPush

__all__ = ["Delivery", "FeedStore", "Pusher"]

# pushes to the customer's live connection; False when this pusher cannot reach them now
Pusher = Callable[[str, CustomerPush], Awaitable[bool]]


class Delivery:
    def __init__(self, feed: FeedStore):
        self.feed = feed
        self._pushers: list[Pusher] = []

    def add_pusher(self, pusher: Pusher) -> None:
        self._pushers.append(pusher)

    async def push(self, conversation_id: str, payload: CustomerPush) -> bool:
        """Push to every live connection of the customer; False when none was reached."""
        delivered = False
        for pusher in self._pushers:
            delivered = await pusher(conversation_id, payload) or delivered
        return delivered

    async def deliver(self, payload: CustomerPush) -> None:
        """Kept until the customer's client has it: a push can be lost with a connection that drops
        as it is sent (or with a node that died and still counts as holding the socket)."""
        conversation_id = payload["recipient_id"]
        row = self.feed.feed_push(conversation_id, dict(payload))
        await self.push(conversation_id, {**payload, "delivery_id": row})

    def take(self, conversation_id: str) -> list[dict[str, Any]]:
        """What was kept for the customer, oldest first, each message once (REST: the response is
        the delivery)."""
        return self.feed.feed_take(conversation_id)

    def pending(self, conversation_id: str) -> list[CustomerPush]:
        """What the customer's client has not acknowledged yet, oldest first, with ``delivery_id``."""
        return [cast(CustomerPush, {**payload, "delivery_id": row})
                for row, payload in self.feed.feed_pending(conversation_id)]

    def acknowledged(self, conversation_id: str, ids: list[int]) -> int:
        return self.feed.feed_ack(conversation_id, ids)
