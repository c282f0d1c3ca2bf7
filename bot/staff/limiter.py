"""A failed-login rate limiter, per key (the name tried and the address it came from)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


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
