"""Starts the FAQ search for a customer's message while Rasa is still deciding what to do with it.

Most of the FAQ action's time is encoding the message (~10 ms on one core), and Rasa spends
~20 ms on NLU and policies before it calls the action. The channels post each typed message to
the action server's ``/prefetch`` as it arrives, so the encoding runs on the other core meanwhile
and the FAQ action finds the vector ready (``KnowledgeBase.prefetch``). Best effort: when the
post fails or comes late, the action encodes the message itself, as before.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import aiohttp

from bot.runtime import settings

log = logging.getLogger(__name__)


class Prefetcher:
    def __init__(self, url: str):
        self.url = url
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task] = set()

    def __call__(self, text: object) -> None:
        if not isinstance(text, str) or not text.strip() or text.startswith("/"):  # or a button
            return
        task = asyncio.get_running_loop().create_task(self._post(text))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, text: str) -> None:
        try:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
            async with self._session.post(self.url, json={"text": text}) as reply:
                await reply.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.debug("prefetch failed (the FAQ action encodes the message itself): %s", exc)


@functools.lru_cache(maxsize=1)
def prefetcher() -> Prefetcher:
    s = settings()
    return Prefetcher(f"http://{s.host}:{s.action_port}/prefetch")


def prefetch(text: object) -> None:
    prefetcher()(text)
