"""The action server's shared services, created once by an explicit warm-up (or on first use)."""

from __future__ import annotations

import threading

from bot.kb.service import KnowledgeBase
from bot.settings import Settings

_lock = threading.Lock()
_kb: KnowledgeBase | None = None


def knowledge_base() -> KnowledgeBase:
    global _kb
    if _kb is None:
        with _lock:
            if _kb is None:
                settings = Settings.from_env()
                kb = KnowledgeBase.from_settings(settings)
                kb.warm_up()
                kb.watch(settings.reload_interval)
                _kb = kb
    return _kb
