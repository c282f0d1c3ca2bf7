"""Masking before storage (``SUPPORTBOT_MASK_AT_REST``), applied by each store to what it writes:
Rasa's events (``bot.rasa.tracker_store``), hand-offs and their messages (``bot.handoff.store``)
and the customer feed (``bot.delivery.feed``). The bot has seen the text by then: NLU and the
actions of the current turn work on what the customer typed; what is read back later is masked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.handoff.packet import HandoffPacket
from bot.handoff.redact import DEFAULT_REGION, MASKS, redact
from bot.settings import Settings


class AtRest:
    """Masks the configured kinds of personal data in the shapes our stores write."""

    def __init__(self, kinds: Iterable[str] = (), region: str = DEFAULT_REGION):
        self.kinds = frozenset(kinds)
        self.region = region

    @classmethod
    def from_settings(cls, settings: Settings) -> AtRest:
        return cls(settings.mask_kinds, settings.phone_region)

    @classmethod
    def default(cls) -> AtRest:
        """What SUPPORTBOT_MASK_AT_REST masks when it is not set (a store not told otherwise)."""
        return cls.from_settings(Settings())

    def __repr__(self) -> str:
        return f"AtRest({sorted(self.kinds)}, {self.region!r})"

    def text(self, text: str) -> str:
        return redact(text, self.kinds, self.region) if self.kinds and text else text

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def email(self, address: str | None) -> str | None:
        """A customer's contact address: kept unless emails are masked."""
        return MASKS["email"] if address and "email" in self.kinds else address

    def event(self, data: dict[str, Any]) -> dict[str, Any]:
        """A Rasa event as it is stored (``Event.as_dict()``): what was said, entity and slot values."""
        if not self.kinds:
            return data
        out = dict(data)
        if isinstance(out.get("text"), str):
            out["text"] = self.text(out["text"])
        parse = out.get("parse_data")
        if isinstance(parse, dict):
            parse = out["parse_data"] = dict(parse)
            if isinstance(parse.get("text"), str):
                parse["text"] = self.text(parse["text"])
            if isinstance(parse.get("entities"), list):
                parse["entities"] = [self._entity(e) for e in parse["entities"]]
        if out.get("event") == "slot":
            out["value"] = self._value(out.get("value"))
        if out.get("event") == "entities" and isinstance(out.get("entities"), list):
            out["entities"] = [self._entity(e) for e in out["entities"]]
        return out

    def _entity(self, entity: Any) -> Any:
        if not isinstance(entity, dict):
            return entity
        return {**entity, **{k: self._value(entity[k]) for k in ("value", "text") if k in entity}}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._value(v) for v in value]
        return value

    def payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A message kept for a customer (``bot.wire``): its text."""
        if not self.kinds or not isinstance(payload.get("text"), str):
            return payload
        return {**payload, "text": self.text(payload["text"])}

    def packet(self, packet: HandoffPacket) -> HandoffPacket:
        if not self.kinds:
            return packet
        return masked_packet(packet, self.text, self.email)


def masked_packet(packet: HandoffPacket, mask: Callable[[str], str],
                  email: Callable[[str | None], str | None]) -> HandoffPacket:
    """A copy with ``mask`` applied to every text a person typed, ``email`` to the contact."""
    p = packet.copy(deep=True)
    for line in p.transcript:
        line.text = mask(line.text)
    s = p.summary
    s.first_question = mask(s.first_question) if s.first_question else None
    s.last_message = mask(s.last_message) if s.last_message else None
    p.customer.email = email(p.customer.email)
    return p
