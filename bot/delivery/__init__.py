"""Deliver this to that customer: pushed live where their client is connected to this process,
otherwise kept in the stored feed for their next request or reconnection.

Channels that hold live connections register a pusher (``Delivery.add_pusher``); a pub/sub pusher
that reaches connections held by other nodes plugs in the same way.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

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
        conversation_id = payload["recipient_id"]
        if not await self.push(conversation_id, payload):
            self.feed.feed_push(conversation_id, dict(payload))

    def take(self, conversation_id: str) -> list[dict[str, Any]]:
        """What was kept for the customer, oldest first, each message once."""
        return self.feed.feed_take(conversation_id)
