"""The event broker that relays what is said during an active hand-off to the agent console."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.handoff.packet import EXTERNAL_PREFIX
from bot.handoff.service import HandoffService
from bot.runtime import handoffs

log = logging.getLogger(__name__)


class HandoffRelay(EventBroker):
    """An event broker (``endpoints.yml``) that copies what the customer and the bot say during an
    active hand-off into it, whatever channel the customer uses, so the agent sees it live."""

    def __init__(self, service: HandoffService | None = None):
        self._service = service

    @property
    def service(self) -> HandoffService:
        return self._service or handoffs()

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: asyncio.AbstractEventLoop | None = None) -> HandoffRelay:
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        kind, text = event.get("event"), event.get("text")
        if kind not in ("user", "bot") or not text or text.startswith(EXTERNAL_PREFIX):
            return
        if kind == "bot" and (event.get("metadata") or {}).get("agent"):
            return  # the console stored the agent's message already
        try:
            h = self.service.store.active_for(event["sender_id"])
            # events up to the hand-off are in its packet already
            if h is not None and float(event.get("timestamp") or 0) > h.created_at.timestamp():
                self.service.store.add_message(h.id, "customer" if kind == "user" else "bot", text)
        except Exception:  # never break the customer's turn because of the relay
            log.exception("could not relay a message of conversation %s", event.get("sender_id"))
