"""Hand-off operations shared by the action server (opening) and the console (everything after),
with the rules of who may do what to a hand-off."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.db import engine, utcnow
from bot.events.outbox import Outbox
from bot.handoff.packet import HandoffPacket, Reason, build_packet
from bot.handoff.redact import DEFAULT_REGION, KINDS, redact
from bot.handoff.states import ASSIGNED, FINAL, RESOLVED, InvalidTransition
from bot.handoff.store import Handoff, HandoffStore, Message
from bot.hours import is_open
from bot.privacy.at_rest import AtRest
from bot.settings import Settings
from bot.staff.accounts import StaffStore

log = logging.getLogger(__name__)


@dataclass
class Opened:
    handoff: Handoff
    created: bool
    live: bool  # someone can take it now; else it waits as a ticket
    position: int


def redacted_packet(packet: HandoffPacket, region: str = DEFAULT_REGION) -> HandoffPacket:
    """A copy with emails, phone, card and IBAN numbers masked everywhere."""
    return AtRest(KINDS, region).packet(packet)


class HandoffService:
    def __init__(self, store: HandoffStore, settings: Settings, staff: StaffStore | None = None,
                 outbox: Outbox | None = None):
        self.store = store
        self.settings = settings
        self.staff = staff or StaffStore(store.engine)
        self.outbox = outbox or Outbox(store.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> HandoffService:
        return cls(HandoffStore(engine(settings.handoff_db_url), AtRest.from_settings(settings)), settings)

    def agents_online(self) -> list[str]:
        return self.staff.agents_online(timedelta(seconds=self.settings.agent_online_seconds))

    def open_now(self, now: datetime | None = None) -> bool:
        return is_open(self.settings.handoff_hours, self.settings.handoff_timezone, now or utcnow())

    def open(self, conversation_id: str, events: list[dict[str, Any]], slots: dict[str, Any],
             reason: Reason) -> Opened:
        """Store the hand-off (before the customer is told anything) and queue its webhooks."""
        live = self.open_now() and bool(self.agents_online())
        packet = build_packet(conversation_id, events, slots, reason)
        handoff, created = self.store.open(packet, ticket=not live)
        if created:
            log.info("hand-off %s opened for conversation %s (%s, %s)", handoff.id, conversation_id,
                     reason.value, "live" if live else "ticket")
            self._notify(handoff, "handoff.created")
        return Opened(handoff, created, live, self.store.queue_position(handoff.id))

    def _notify(self, handoff: Handoff, kind: str) -> None:
        body = {"event": kind, "handoff_id": handoff.id, "state": handoff.state,
                "packet": json.loads(redacted_packet(handoff.packet, self.settings.phone_region).json())}
        for url in self.settings.webhook_urls:
            self.outbox.enqueue_webhook(f"{handoff.id}:{kind}", url, body)

    def claim(self, handoff_id: str, agent: str) -> Handoff:
        return self.store.transition(handoff_id, ASSIGNED, agent=agent)

    def send(self, handoff_id: str, agent: str, text: str) -> tuple[Handoff, Message]:
        """A message from the agent who holds the hand-off (nobody else may write in it)."""
        h = self.store.get(handoff_id)
        if h.state != ASSIGNED or h.agent != agent:
            raise InvalidTransition(handoff_id, h.state, "messaged by you", h.agent)
        return h, self.store.add_message(handoff_id, "agent", text, author=agent)

    def finish(self, handoff_id: str, agent: str, outcome: str) -> Handoff:
        """``outcome``: resolved, returned_to_bot, or abandoned (the customer left). A hand-off
        another agent holds is theirs to finish."""
        if outcome not in FINAL:
            raise ValueError(f"a hand-off ends as one of {', '.join(FINAL)}, not {outcome!r}")
        current = self.store.get(handoff_id)
        if current.state == ASSIGNED and current.agent != agent:
            raise InvalidTransition(handoff_id, current.state, "finished by you", current.agent)
        holder = current.agent if current.state == ASSIGNED else None  # a transfer meanwhile wins
        h = self.store.transition(handoff_id, outcome, actor=agent, holder=holder)
        self._notify(h, f"handoff.{outcome}")
        return h

    def rate(self, handoff_id: str, rating: int, comment: str | None = None) -> Handoff:
        """The customer's rating of a resolved hand-off, once: a second one raises AlreadyRated
        (the first one stays); a hand-off that is not resolved cannot be rated."""
        h = self.store.get(handoff_id)
        if h.state != RESOLVED:
            raise InvalidTransition(handoff_id, h.state, "rated")
        self.store.rate(handoff_id, rating, comment)
        log.info("hand-off %s rated %d", handoff_id, rating)
        return self.store.get(handoff_id)

    def for_agent(self, text: str | None) -> str | None:
        """What the console shows: as typed, or with personal data masked (a setting)."""
        if not text or self.settings.agents_see_personal_data:
            return text
        return redact(text, region=self.settings.phone_region)
