"""One conversation's turns never run on two nodes at once: a Redis lock per conversation.

Open-source Rasa's ``RedisLockStore`` keeps a ticket queue as JSON that every node reads, changes
and writes back without a transaction, so two nodes can both believe they hold the lock
(RasaHQ/rasa#11256). Here the lock is redis-py's ``Lock``: ``SET key token NX PX`` to take it, a Lua
script that deletes it only while it still holds our token to release it, so a holder whose lock
expired cannot release another's. While held it is renewed (``reacquire``) every third of its
lifetime, so a long turn keeps it; the fencing check on exit says when it was lost anyway (Redis
unreachable, Redis restarted empty, or the process stalled past the lifetime) by raising ``LockLost``
once the body is done, instead of passing silently (a body that raised keeps its own exception).
A release that cannot reach Redis leaves the lock to expire (logged): the turn is done.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

import redis
import redis.asyncio
from redis.exceptions import LockError, LockNotOwnedError

log = logging.getLogger(__name__)
PREFIX = "supportbot:lock:"


class LockTimeout(RuntimeError):
    """Another holder kept the conversation's lock for longer than we may wait."""


class LockLost(RuntimeError):
    """The lock expired or was taken over while we held it (the fencing check failed)."""


class ConversationLocks:
    def __init__(self, client: redis.asyncio.Redis, lifetime: float = 60.0, poll: float = 0.01):
        if lifetime <= 0 or poll <= 0:
            raise ValueError("lifetime and poll must be positive seconds")
        self.client, self.lifetime, self.poll = client, lifetime, poll

    def _lock(self, conversation_id: str, wait: float | None) -> redis.asyncio.lock.Lock:
        return self.client.lock(PREFIX + conversation_id, timeout=self.lifetime, sleep=self.poll,
                                blocking_timeout=self.lifetime if wait is None else wait, thread_local=False)

    async def _renew(self, lock: redis.asyncio.lock.Lock, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.lifetime / 3)
            try:
                await lock.reacquire()
            except (LockError, redis.RedisError) as exc:  # not ours any more, or Redis unreachable
                log.error("conversation lock %s could not be renewed: %s", lock.name, exc)
                lost.set()
                return

    @asynccontextmanager
    async def hold(self, conversation_id: str, wait: float | None = None) -> AsyncIterator[None]:
        """Hold the conversation's lock, waiting up to ``wait`` seconds (default: its lifetime)."""
        lock = self._lock(conversation_id, wait)
        if not await lock.acquire():
            waited = self.lifetime if wait is None else wait
            raise LockTimeout(f"conversation {conversation_id!r} stayed locked for {waited:.1f} s")
        lost = asyncio.Event()
        renewal = asyncio.create_task(self._renew(lock, lost))
        finished = False
        try:
            yield
            finished = True
        finally:  # the body's own exception, if any, goes on: a lost lock is then only logged
            renewal.cancel()
            try:
                await lock.release()
            except LockNotOwnedError:
                lost.set()
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # the turn is done and stored:
                log.warning("conversation lock %s left to expire: Redis unreachable (%s)", lock.name, exc)
            if lost.is_set() and not finished:
                log.error("the lock of conversation %r expired or was taken over while this node held it",
                          conversation_id)
        if lost.is_set():
            raise LockLost(f"the lock of conversation {conversation_id!r} expired or was taken over "
                           "while this node held it")
