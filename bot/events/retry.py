"""Draining an outbox (``bot.events.outbox.DeliveryQueue``) with exponential back-off: the loop every
sender of the background worker shares. A sender says how to deliver one row (``attempt``); the
loop marks it delivered, or failed with its error and the time of the next try, or given up."""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta
from typing import Any, Iterable

from bot.db import utcnow
from bot.events.outbox import DeliveryQueue

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 600.0


class DeliveryFailed(Exception):
    """One attempt failed: ``str(exc)`` is what the outbox records; ``permanent``: do not retry."""

    def __init__(self, error: str, permanent: bool = False):
        super().__init__(error)
        self.permanent = permanent


def backoff(attempts: int, base: float = 1.0) -> float:
    """Seconds before the next try after ``attempts`` failures: 1, 2, 4, ... up to 10 min, +-20 %."""
    return min(MAX_BACKOFF_S, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


class RetryingSender:
    """Subclasses name themselves (``kind``) and deliver one row (``attempt``, raising DeliveryFailed).
    ``max_attempts`` None retries for ever; else the row is given up after that many failures."""

    kind = "delivery"

    def __init__(self, queue: DeliveryQueue, base_delay: float = 1.0, max_attempts: int | None = None):
        self.queue, self.base_delay, self.max_attempts = queue, base_delay, max_attempts
        self._unrecorded: list[int] = []  # sent, but the database was away when we said so

    def attempt(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def describe(self, row: dict[str, Any]) -> str:
        return f"{self.kind} {row['id']}"

    def deliver_due(self) -> int:
        """Try every row that is due; returns how many were delivered. A delivery the database could
        not be told about (it was away) is told first, on a later round, and never sent again by this
        sender; the round stops while the database is away (the exception goes to the caller)."""
        self._record_delivered()
        done = 0
        for row in self.queue.claim():
            if row["id"] in self._unrecorded:
                continue
            try:
                self.attempt(row)
            except DeliveryFailed as exc:
                self._failed(row, exc)
                continue
            self._unrecorded.append(row["id"])
            self._record_delivered()
            done += 1
        return done

    def _record_delivered(self) -> None:
        while self._unrecorded:
            self.queue.delivered(self._unrecorded[0])
            self._unrecorded.pop(0)

    def _failed(self, row: dict[str, Any], exc: DeliveryFailed) -> None:
        attempts = row["attempts"] + 1
        if exc.permanent or (self.max_attempts is not None and attempts >= self.max_attempts):
            self.queue.failed(row["id"], str(exc), None)
            log.warning("%s failed (%s) after %d attempt(s); given up", self.describe(row), exc, attempts)
            return
        delay = backoff(attempts, self.base_delay)
        self.queue.failed(row["id"], str(exc), utcnow() + timedelta(seconds=delay))
        log.warning("%s failed (%s); retrying in %.0f s", self.describe(row), exc, delay)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        run_senders([self], stop, interval)

    def start(self, interval: float = 1.0) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop, interval), name=self.kind, daemon=True)
        thread.start()
        return thread, stop


def run_senders(senders: Iterable[RetryingSender], stop: threading.Event, interval: float = 1.0) -> None:
    """Every ``interval`` seconds, each sender delivers what is due, until ``stop`` is set."""
    senders = list(senders)
    while not stop.is_set():
        for sender in senders:
            try:
                sender.deliver_due()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("%s round failed", sender.kind)
        stop.wait(interval)
