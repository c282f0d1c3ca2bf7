"""Rasa's lock store for one node or several: in memory as Rasa's own default while
``SUPPORTBOT_REDIS_URL`` is unset, else ``bot.cluster.lock`` (a Redis lock per conversation, without
the race of Rasa's ``RedisLockStore``). Configured in ``endpoints.yml``:
``lock_store: type: bot.rasa.lock_store.SupportLockStore``."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore

from bot.cluster import async_client
from bot.cluster.lock import ConversationLocks


class SupportLockStore(InMemoryLockStore):
    def __init__(self, endpoint_config: Any = None, redis_url: str | None = None) -> None:
        super().__init__()
        if redis_url is None:
            from bot.runtime import settings

            redis_url = settings().redis_url
        self.redis_url = redis_url
        self._locks: ConversationLocks | None = None

    def _shared(self) -> ConversationLocks:
        if self._locks is None:  # created in the server's event loop, on the first turn
            self._locks = ConversationLocks(async_client(self.redis_url), lifetime=LOCK_LIFETIME)
        return self._locks

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        if not self.redis_url:
            async with super().lock(conversation_id, lock_lifetime, wait_time_in_seconds) as held:
                yield held
            return
        async with self._shared().hold(conversation_id):
            yield TicketLock(conversation_id)
