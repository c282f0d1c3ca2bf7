"""How much a customer's client may send: one message's length, and messages a minute per
conversation. Checked by the channels before Rasa's NLU sees the text, so a huge or rapid-fire
message costs its sender a refusal, not every other customer a slow turn.

One node counts the rate in its process; with Redis configured (``SUPPORTBOT_REDIS_URL``) every node
counts in Redis, so a customer whose requests the load balancer spreads over several nodes gets the
same limit as on one. Should Redis be unreachable, each node counts alone again for a while (and it
is logged): neither refusing every customer nor dropping the limit.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

WINDOW_S = 60.0
TRACKED = 50_000  # conversations remembered; the least recently active are forgotten first
RETRY_REDIS_S = 10.0  # after Redis failed to answer, each node counts alone this long


@dataclass(frozen=True)
class Refusal:
    field: str
    message: str
    status: int  # 413 too long, 429 too many
    retry_after: int = 0


class MessageLimits:
    def __init__(self, max_chars: int, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.max_chars, self.per_minute, self.clock = max_chars, per_minute, clock
        self._sent: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def refusal(self, conversation_id: str, text: str, metadata: Any = None) -> Refusal | None:
        """Why this message may not go on (not counted then), or None (counted). Metadata (stored
        with the message by Rasa) may be as long as a message, as JSON."""
        if len(text) > self.max_chars:
            return Refusal("message", f"a message can have at most {self.max_chars} characters; this one "
                                      f"has {len(text)}: send it in shorter parts", 413)
        if metadata and len(json.dumps(metadata, default=str)) > self.max_chars:
            return Refusal("metadata", f"metadata can have at most {self.max_chars} characters as JSON", 413)
        wait = self._wait(conversation_id)
        if wait:
            return Refusal("rate", f"too many messages: at most {self.per_minute} a minute in one "
                                   f"conversation; try again in {wait} s", 429, wait)
        return None

    def _wait(self, conversation_id: str) -> int:
        """Seconds until this conversation may send again (the message is not counted then), or 0
        (counted)."""
        now = self.clock()
        with self._lock:
            sent = self._sent.pop(conversation_id, None) or collections.deque()
            while sent and sent[0] <= now - WINDOW_S:
                sent.popleft()
            self._sent[conversation_id] = sent
            if len(self._sent) > TRACKED:
                self._sent.popitem(last=False)
            if len(sent) >= self.per_minute:
                return max(1, math.ceil(sent[0] + WINDOW_S - now))
            sent.append(now)
        return 0


# One round trip, atomic across nodes: drop what left the window, then count this message or say
# when the oldest one leaves it. KEYS[1] the conversation's sorted set of send times; ARGV: now,
# window, limit, a unique member for this message.
_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2]) + 1)
return false
"""


class RedisMessageLimits(MessageLimits):
    """``MessageLimits`` whose rate every node counts in Redis (wall-clock time, the same on every
    node); the length limits need no sharing."""

    PREFIX = "supportbot:messages:"

    def __init__(self, client: redis.Redis, max_chars: int, per_minute: int,
                 clock: Callable[[], float] = time.time):
        super().__init__(max_chars, per_minute, clock)
        self._count = client.register_script(_COUNT)
        self._skip_until = 0.0

    def _wait(self, conversation_id: str) -> int:
        import redis

        now = self.clock()
        if now < self._skip_until:
            return super()._wait(conversation_id)
        try:
            oldest = self._count(keys=[self.PREFIX + conversation_id],
                                 args=[now, WINDOW_S, self.per_minute, uuid.uuid4().hex])
        except redis.RedisError as exc:
            # the call blocks the event loop, so a Redis that is down is not asked again for a while
            self._skip_until = now + RETRY_REDIS_S
            log.warning("message rates counted by this node alone for %.0f s: Redis unreachable (%s)",
                        RETRY_REDIS_S, exc)
            return super()._wait(conversation_id)
        return 0 if oldest is None else max(1, math.ceil(float(oldest) + WINDOW_S - now))


def message_limits(max_chars: int, per_minute: int, redis_url: str = "") -> MessageLimits:
    """Counted in this process for one node; in Redis, shared by the nodes, when ``redis_url`` is set."""
    if not redis_url:
        return MessageLimits(max_chars, per_minute)
    import redis

    # asked on the event loop before each message: short timeouts, not the 5 s of bot.cluster's clients
    client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisMessageLimits(client, max_chars, per_minute)
