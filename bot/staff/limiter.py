"""A failed-login rate limiter, per key (the name tried and the address it came from)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict, deque

import redis


class LoginLimiter:
    """At most ``attempts`` failed logins per key (name and address) within ``window`` seconds."""

    def __init__(self, attempts: int = 5, window: float = 300.0):
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._failures[key]
            while q and q[0] <= now - self.window:
                q.popleft()
            return 0.0 if len(q) < self.attempts else q[0] + self.window - now

    def failed(self, key: str, now: float | None = None) -> None:
        with self._lock:
            self._failures[key].append(time.monotonic() if now is None else now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class RedisLoginLimiter:
    """``LoginLimiter`` shared by every node through Redis (``SUPPORTBOT_REDIS_URL``): one sorted set of
    failure times per key, expiring with its window; wall-clock time, the same on every node."""

    PREFIX = "supportbot:login-failures:"

    def __init__(self, client: redis.Redis, attempts: int = 5, window: float = 300.0):
        self.client, self.attempts, self.window = client, attempts, window

    def retry_after(self, key: str, now: float | None = None) -> float:
        now = time.time() if now is None else now
        name = self.PREFIX + key
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(name, "-inf", now - self.window)
        pipe.zrange(name, 0, -1, withscores=True)
        failures = [score for _member, score in pipe.execute()[1]]
        return 0.0 if len(failures) < self.attempts else failures[-self.attempts] + self.window - now

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        name = self.PREFIX + key
        pipe = self.client.pipeline()
        pipe.zadd(name, {uuid.uuid4().hex: now})
        pipe.expire(name, int(self.window) + 1)
        pipe.execute()

    def succeeded(self, key: str) -> None:
        self.client.delete(self.PREFIX + key)


def login_limiter(redis_url: str) -> LoginLimiter | RedisLoginLimiter:
    """In this process for one node; in Redis, shared by the nodes, when ``redis_url`` is set."""
    if not redis_url:
        return LoginLimiter()
    from bot.cluster import sync_client

    return RedisLoginLimiter(sync_client(redis_url))
