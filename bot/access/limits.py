"""How much a customer's client may send: one message's length, and messages a minute per
conversation. Checked by the channels before Rasa's NLU sees the text, so a huge or rapid-fire
message costs its sender a refusal, not every other customer a slow turn.

The rate is counted per server process (a customer's requests may reach several nodes: each
counts its own share).
"""

from __future__ import annotations

import collections
import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

WINDOW_S = 60.0
TRACKED = 50_000  # conversations remembered; the least recently active are forgotten first


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
        now = self.clock()
        with self._lock:
            sent = self._sent.pop(conversation_id, None) or collections.deque()
            while sent and sent[0] <= now - WINDOW_S:
                sent.popleft()
            self._sent[conversation_id] = sent
            if len(self._sent) > TRACKED:
                self._sent.popitem(last=False)
            if len(sent) >= self.per_minute:
                wait = max(1, math.ceil(sent[0] + WINDOW_S - now))
                return Refusal("rate", f"too many messages: at most {self.per_minute} a minute in one "
                                       f"conversation; try again in {wait} s", 429, wait)
            sent.append(now)
        return None
