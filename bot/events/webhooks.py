"""Delivers hand-offs to other systems from the persistent outbox (``webhook_outbox``).

Each POST carries the JSON body, ``Idempotency-Key`` (the same on every retry of one delivery),
``X-Supportbot-Timestamp`` and ``X-Supportbot-Signature: sha256=<hex>``, an HMAC-SHA256 with the
shared secret over ``"<timestamp>.<body>"``. A 2xx answer marks the delivery done and it is never
sent again; anything else is retried with exponential back-off, also after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
from datetime import timedelta

import httpx

from bot.db import utcnow
from bot.events.outbox import Outbox

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 600.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int, base: float = 1.0) -> float:
    """Seconds before the next try after ``attempts`` failures: 1, 2, 4, ... up to 10 min, +-20 %."""
    return min(MAX_BACKOFF_S, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


class WebhookSender:
    def __init__(self, store: Outbox, secret: str, timeout: float = 5.0, base_delay: float = 1.0):
        self.store, self.secret, self.base_delay = store, secret, base_delay
        self.client = httpx.Client(timeout=timeout)

    def deliver_due(self) -> int:
        """Try every delivery that is due; returns how many were acknowledged."""
        done = 0
        for row in self.store.due_webhooks():
            body = row["body"].encode()
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/json", "Idempotency-Key": row["idempotency_key"],
                       "X-Supportbot-Timestamp": ts, "X-Supportbot-Signature": signature(self.secret, ts, body)}
            try:
                r = self.client.post(row["url"], content=body, headers=headers)
                error = None if r.is_success else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                self.store.webhook_delivered(row["id"])
                done += 1
            else:
                delay = backoff(row["attempts"] + 1, self.base_delay)
                self.store.webhook_failed(row["id"], error, utcnow() + timedelta(seconds=delay))
                log.warning("webhook %s to %s failed (%s); retrying in %.0f s", row["idempotency_key"],
                            row["url"], error, delay)
        return done

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("webhook delivery round failed")
            stop.wait(interval)

    def start(self, interval: float = 1.0) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop, interval), name="webhooks", daemon=True)
        thread.start()
        return thread, stop
