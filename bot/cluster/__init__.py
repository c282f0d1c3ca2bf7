"""What several nodes share through Redis (``SUPPORTBOT_REDIS_URL``): each conversation's lock,
which conversations have a live socket on which node, the login limiter. Unset: one node, nothing here
is used. No Rasa import: ``bot.rasa.lock_store`` and the socket.io channel plug these in."""

from __future__ import annotations

import functools

import redis
import redis.asyncio

__all__ = ["sync_client", "async_client"]


@functools.lru_cache(maxsize=4)
def sync_client(url: str) -> redis.Redis:
    """A blocking client (short calls outside the event loop's hot path: the login limiter)."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def async_client(url: str) -> redis.asyncio.Redis:
    """An asyncio client; create one per event loop (its pool belongs to the loop it first ran in)."""
    return redis.asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
