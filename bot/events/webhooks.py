"""Delivers hand-offs to other systems from the persistent outbox (``webhook_outbox``).

Each POST carries the JSON body, ``Idempotency-Key`` (the same on every retry of one delivery),
``X-Supportbot-Timestamp`` and ``X-Supportbot-Signature: sha256=<hex>``, an HMAC-SHA256 with the
shared secret over ``"<timestamp>.<body>"``. A 2xx answer marks the delivery done and it is never
sent again; anything else is retried with exponential back-off (``bot.events.retry``), also after
a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx

from bot.events.outbox import Outbox
from bot.events.retry import DeliveryFailed, RetryingSender, backoff

__all__ = ["WebhookSender", "signature", "backoff"]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookSender(RetryingSender):
    kind = "webhooks"

    def __init__(self, store: Outbox, secret: str, timeout: float = 5.0, base_delay: float = 1.0):
        super().__init__(store.queue, base_delay)
        self.store, self.secret = store, secret
        self.client = httpx.Client(timeout=timeout)

    def describe(self, row: dict[str, Any]) -> str:
        return f"webhook {row['idempotency_key']} to {row['url']}"

    def attempt(self, row: dict[str, Any]) -> None:
        body = row["body"].encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": row["idempotency_key"],
                   "X-Supportbot-Timestamp": ts, "X-Supportbot-Signature": signature(self.secret, ts, body)}
        try:
            r = self.client.post(row["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not r.is_success:
            raise DeliveryFailed(f"HTTP {r.status_code}")
