"""Each server process's shared services, created on first use (or by an explicit warm-up),
never at import time."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.access.limits import MessageLimits
    from bot.delivery import Delivery
    from bot.handoff.service import HandoffService
    from bot.inbox.store import InboxStore
    from bot.kb.serving import KnowledgeBase
    from bot.staff.accounts import StaffStore
    from bot.web.live_events import AgentEvents

_lock = threading.Lock()
_kb: KnowledgeBase | None = None


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def knowledge_base() -> KnowledgeBase:
    """The FAQ: model and serving index loaded, watching for new versions."""
    global _kb
    if _kb is None:
        with _lock:
            if _kb is None:
                from bot.kb.serving import KnowledgeBase

                kb = KnowledgeBase.from_settings(settings())
                kb.warm_up()
                kb.watch(settings().reload_interval)
                _kb = kb
    return _kb


@functools.lru_cache(maxsize=1)
def handoffs() -> HandoffService:
    from bot.handoff.service import HandoffService

    return HandoffService.from_settings(settings())


def staff() -> StaffStore:
    return handoffs().staff


@functools.lru_cache(maxsize=1)
def delivery() -> Delivery:
    """Deliver to customers of this process (its live sockets) or to their stored feed."""
    from bot.db import engine
    from bot.delivery import Delivery, FeedStore
    from bot.privacy.at_rest import AtRest

    return Delivery(FeedStore(engine(settings().handoff_db_url), AtRest.from_settings(settings())))


@functools.lru_cache(maxsize=1)
def message_limits() -> MessageLimits:
    """How long and how often customers of this process may write (``bot.access.limits``)."""
    from bot.access.limits import message_limits as limits

    s = settings()
    return limits(s.max_message_chars, s.messages_per_minute, s.redis_url)


@functools.lru_cache(maxsize=1)
def inbox() -> InboxStore:
    """Questions the FAQ did not answer (``bot.inbox``), in the hand-off database; written on every
    FAQ turn, so committed without waiting for the disk (``bot.db.engine``'s ``durable=False``)."""
    from bot.db import engine
    from bot.inbox.store import InboxStore

    s = settings()
    return InboxStore(engine(s.handoff_db_url, durable=False), s.phone_region)


@functools.lru_cache(maxsize=1)
def agent_events() -> AgentEvents:
    """Live updates to the agents' consoles connected to this process (``bot.web.live_events``)."""
    from bot.web.live_events import AgentEvents

    return AgentEvents()
