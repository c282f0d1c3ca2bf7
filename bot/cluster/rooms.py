"""socket.io rooms across nodes: python-socketio's ``AsyncRedisManager``, subscribing again every
``retry`` seconds while Redis is away (the library's own retry doubles its wait up to 60 s, and a push
published while a node is not subscribed is lost), and saying whether it is subscribed now
(``listening``), so that ``bot.cluster.presence`` announces only a node that can receive."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from socketio import AsyncRedisManager

log = logging.getLogger(__name__)


class SharedRooms(AsyncRedisManager):  # type: ignore[misc]  # python-socketio ships no types
    def __init__(self, url: str, channel: str, retry: float = 1.0) -> None:
        if retry <= 0:
            raise ValueError("retry must be positive seconds")
        super().__init__(url, channel=channel)
        self.retry, self.listening = retry, False

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        while True:
            try:
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                self.listening = True
                log.info("socket.io rooms: subscribed to %s", self.channel)
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:  # as the library: whatever broke the connection, connect again
                if self.listening:
                    log.error("socket.io rooms: Redis connection lost (%s); retrying every %.0f s",
                              exc, self.retry)
            self.listening = False
            await asyncio.sleep(self.retry)
