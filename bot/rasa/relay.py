"""The event broker that relays what is said during an active hand-off to the agent console: stored
as the hand-off's messages, and announced live to the agents' consoles (``bot.web.console_live``)
with each new hand-off."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.handoff.packet import is_external
from bot.handoff.service import HandoffService
from bot.runtime import handoffs
from bot.web.console_live import announce_handoff, announce_message
from bot.web.live_events import AgentEvents

log = logging.getLogger(__name__)


class HandoffRelay(EventBroker):
    """An event broker (``endpoints.yml``) that copies what the customer and the bot say during an
    active hand-off into it, whatever channel the customer uses, so the agent sees it live."""

    def __init__(self, service: HandoffService | None = None, events: AgentEvents | None = None):
        self._service = service
        self.events = events  # None: this process's (bot.runtime.agent_events)

    @property
    def service(self) -> HandoffService:
        return self._service or handoffs()

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: asyncio.AbstractEventLoop | None = None) -> HandoffRelay:
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """One turn's events at once: one look-up of the hand-off per conversation, not per event."""
        said: dict[str, list[dict[str, Any]]] = {}
        opened: set[str] = set()  # conversations whose turn told the customer about a hand-off
        for event in events:
            kind, text = event.get("event"), event.get("text")
            if kind == "bot" and ((event.get("data") or {}).get("custom") or {}).get("handoff"):
                opened.add(event["sender_id"])
            if kind not in ("user", "bot") or not text or is_external(event):
                continue
            if kind == "bot" and (event.get("metadata") or {}).get("agent"):
                continue  # the console stored the agent's message already
            said.setdefault(event["sender_id"], []).append(event)
        for sender_id in opened | set(said):
            try:
                h = self.service.store.active_for(sender_id)
                if h is None:
                    continue
                if sender_id in opened:
                    announce_handoff(self.service, h, "opened", self.events)
                for event in said.get(sender_id, []):  # events up to the hand-off are in its packet already
                    if float(event.get("timestamp") or 0) > h.created_at.timestamp():
                        message = self.service.store.add_message(
                            h.id, "customer" if event["event"] == "user" else "bot", event["text"])
                        announce_message(self.service, h, message, self.events)
            except Exception:  # never break the customer's turn because of the relay
                log.exception("could not relay a message of conversation %s", sender_id)
