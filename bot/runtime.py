"""The action server's shared services, created once by an explicit warm-up (or on first use)."""

from __future__ import annotations

import functools
import threading

from bot.handoff.service import HandoffService
from bot.kb.service import KnowledgeBase
from bot.settings import Settings

_lock = threading.Lock()
_kb: KnowledgeBase | None = None


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def knowledge_base() -> KnowledgeBase:
    global _kb
    if _kb is None:
        with _lock:
            if _kb is None:
                kb = KnowledgeBase.from_settings(settings())
                kb.warm_up()
                kb.watch(settings().reload_interval)
                _kb = kb
    return _kb


@functools.lru_cache(maxsize=1)
def handoffs() -> HandoffService:
    return HandoffService.from_settings(settings())
