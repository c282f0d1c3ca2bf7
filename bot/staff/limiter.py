"""A failed-login rate limiter, per key (the name tried and the address it came from)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from typing import Callable, TypeVar

import redis

log = logging.getLogger(__name__)
RETRY_REDIS_S = 10.0  # after Redis failed to answer, this node counts failed logins alone this long
T = TypeVar("T")


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


class RedisLoginLimiter(LoginLimiter):
    """``LoginLimiter`` shared by every node through Redis (``SUPPORTBOT_REDIS_URL``): one sorted set of
    failure times per key, expiring with its window; wall-clock time, the same on every node. While
    Redis does not answer, each node counts in its own process (logged), so staff can still log in
    and guessing is still limited."""

    PREFIX = "supportbot:login-failures:"

    def __init__(self, client: redis.Redis, attempts: int = 5, window: float = 300.0):
        super().__init__(attempts, window)
        self.client = client
        self._skip_until = 0.0

    def _shared(self, ask: Callable[[], T], alone: Callable[[], T]) -> T:
        if time.monotonic() < self._skip_until:
            return alone()
        try:
            return ask()
        except redis.RedisError as exc:
            self._skip_until = time.monotonic() + RETRY_REDIS_S
            log.warning("failed logins counted by this node alone for %.0f s: Redis unreachable (%s)",
                        RETRY_REDIS_S, exc)
            return alone()

    def retry_after(self, key: str, now: float | None = None) -> float:
        def ask() -> float:
            at = time.time() if now is None else now
            pipe = self.client.pipeline()
            pipe.zremrangebyscore(self.PREFIX + key, "-inf", at - self.window)
            pipe.zrange(self.PREFIX + key, 0, -1, withscores=True)
            failures = [score for _member, score in pipe.execute()[1]]
            return 0.0 if len(failures) < self.attempts else failures[-self.attempts] + self.window - at
        return self._shared(ask, lambda: super(RedisLoginLimiter, self).retry_after(key, now))

    def failed(self, key: str, now: float | None = None) -> None:
        def ask() -> None:
            pipe = self.client.pipeline()
            pipe.zadd(self.PREFIX + key, {uuid.uuid4().hex: time.time() if now is None else now})
            pipe.expire(self.PREFIX + key, int(self.window) + 1)
            pipe.execute()
        self._shared(ask, lambda: super(RedisLoginLimiter, self).failed(key, now))

    def succeeded(self, key: str) -> None:
        super().succeeded(key)
        self._shared(lambda: self.client.delete(self.PREFIX + key), lambda: None)


def login_limiter(redis_url: str) -> LoginLimiter | RedisLoginLimiter:
    """In this process for one node; in Redis, shared by the nodes, when ``redis_url`` is set."""
    if not redis_url:
        return LoginLimiter()
    # asked during a login request: short timeouts, so a Redis that is down costs one short wait
    return RedisLoginLimiter(redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5))
