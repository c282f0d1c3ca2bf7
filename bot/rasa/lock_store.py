"""Rasa's lock store for one node or several: in memory as Rasa's own default while
``SUPPORTBOT_REDIS_URL`` is unset, else ``bot.cluster.lock`` (a Redis lock per conversation, without
the race of Rasa's ``RedisLockStore``). Configured in ``endpoints.yml``:
``lock_store: type: bot.rasa.lock_store.SupportLockStore``.

Should Redis be unreachable, the lock fails open across nodes: each node takes its own in-memory lock
for ``LOCAL_FOR_S`` seconds before asking Redis again (logged), so customers' turns are still answered
and still one at a time on each node (a socket.io customer's turns all go to one node, through the
load balancer's sticky sessions). Failing closed would refuse every customer of every node for as
long as Redis is away; the cost of failing open is that two REST turns of one conversation sent at
the same instant to two nodes may run together. A turn whose Redis lock was lost while it ran (Redis
restarted empty, or the node stalled past the lock's lifetime) is still answered; the log says so.
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncGenerator

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore

from bot.cluster import async_client
from bot.cluster.lock import ConversationLocks, LockLost

log = logging.getLogger(__name__)
LOCAL_FOR_S = 5.0  # after Redis failed to answer, each node locks conversations alone this long


class SupportLockStore(InMemoryLockStore):
    def __init__(self, endpoint_config: Any = None, redis_url: str | None = None) -> None:
        super().__init__()
        if redis_url is None:
            from bot.runtime import settings

            redis_url = settings().redis_url
        self.redis_url = redis_url
        self._locks: ConversationLocks | None = None
        self._local_until = 0.0

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
        try:
            async with AsyncExitStack() as stack:
                shared = time.monotonic() >= self._local_until
                if shared:
                    try:
                        await stack.enter_async_context(self._shared().hold(conversation_id))
                    except (redis.ConnectionError, redis.TimeoutError) as exc:
                        shared, self._local_until = False, time.monotonic() + LOCAL_FOR_S
                        log.warning("conversations locked by this node alone for %g s: Redis unreachable (%s)",
                                    LOCAL_FOR_S, exc)
                if not shared:
                    await stack.enter_async_context(super().lock(conversation_id, lock_lifetime,
                                                                 wait_time_in_seconds))
                yield TicketLock(conversation_id)
        except LockLost as exc:  # raised only after the turn ran to its end: its reply and events are
            # stored, so the customer gets the reply; the log says the turn may have overlapped another
            log.error("%s (Redis restarted, or this node stalled); its turn is answered and stored, but "
                      "another node may have run a turn of it at the same time", exc)
