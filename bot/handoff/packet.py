"""The hand-off packet: everything an agent (or another system) needs to take over a conversation.

Built from the Rasa tracker's events, so it holds every message said so far. Published as a JSON
Schema in ``docs/handoff-packet.schema.json`` (``supportbot handoff schema``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Iterable

from pydantic import BaseModel, Field

from bot.handoff.customer_input import email_in, is_email

SCHEMA_VERSION = 1
IS_EXTERNAL = "is_external"  # Rasa marks an intent triggered from outside (trigger_intent) in metadata


def is_external(event: dict[str, Any]) -> bool:
    """An intent Rasa triggered itself (e.g. handoff_finished), not something the customer typed:
    told by the event's metadata, never by its text (a customer may type anything)."""
    return (event.get("metadata") or {}).get(IS_EXTERNAL) is True


# Buttons the widget always shows (bot/web/static/widget.js: "Talk to a person"); any other
# "/intent" message counts as a button only when the bot offered it (bot/rasa/typed_intents.py).
FIXED_PAYLOADS = frozenset({"/request_human"})
# Intents whose message is a real question, not small talk, for the summary's first question.
QUESTION_INTENTS = {"ask_question", "nlu_fallback", "out_of_scope", None}


class _Model(BaseModel):
    class Config:
        @staticmethod
        def schema_extra(schema: dict[str, Any], model: type[BaseModel]) -> None:
            # pydantic 1 leaves "null" out of optional fields' types; the packet does contain nulls.
            for f in model.__fields__.values():
                prop = schema.get("properties", {}).get(f.alias)
                if f.allow_none and prop is not None:
                    title = prop.pop("title", None)
                    schema["properties"][f.alias] = {"title": title, "anyOf": [prop, {"type": "null"}]}


class Reason(str, Enum):
    user_request = "user_request"
    low_confidence = "low_confidence"
    frustration = "frustration"
    faq_unavailable = "faq_unavailable"


class Role(str, Enum):
    customer = "customer"
    bot = "bot"
    agent = "agent"


class Button(_Model):
    title: str
    payload: str


class TranscriptLine(_Model):
    role: Role
    text: str
    at: datetime = Field(description="When it was said (UTC)")
    buttons: list[Button] = Field(default_factory=list, description="Buttons offered with a bot message")
    faq_id: str | None = Field(default=None, description="FAQ entry a bot answer came from")
    faq_score: float | None = Field(default=None, description="Retrieval score of that answer")
    faq_decision: str | None = Field(default=None, description="answer, chosen, clarify or miss")
    author: str | None = Field(default=None, description="Agent name for agent messages")
    why: dict[str, Any] | None = Field(default=None, description=(
        "Why the bot said this (FAQ turns): decision, reason, top candidates {id, question, score}, "
        "thresholds and index version at the time; for agents, never sent to customers"))


class Summary(_Model):
    first_question: str | None = Field(default=None, description="The customer's first real question")
    faq_tried: list[str] = Field(default_factory=list, description="FAQ entries already answered")
    last_message: str | None = Field(default=None, description="The customer's last message")


class CustomerInfo(_Model):
    name: str | None = None
    email: str | None = None


class HandoffPacket(_Model):
    schema_version: int = SCHEMA_VERSION
    conversation_id: str
    channel: str
    created_at: datetime
    reason: Reason
    summary: Summary
    customer: CustomerInfo
    transcript: list[TranscriptLine]

    def to_json(self) -> str:
        return self.json()

    @classmethod
    def from_json(cls, raw: str) -> HandoffPacket:
        return cls.parse_raw(raw)


def json_schema() -> str:
    schema = HandoffPacket.schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "Supportbot hand-off packet"
    return json.dumps(schema, indent=2) + "\n"


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(event.get("timestamp") or 0), tz=timezone.utc)


def transcript_from_events(events: Iterable[dict[str, Any]]) -> list[TranscriptLine]:
    """Customer and bot messages in order; a clicked button shows as its title, not its payload."""
    lines: list[TranscriptLine] = []
    offered: dict[str, str] = {}
    for e in events:
        kind = e.get("event")
        if kind == "user":
            text = e.get("text") or ""
            if is_external(e):  # an intent triggered by the system, not typed
                continue
            if text in offered:  # a button the bot offered: its title
                text = offered[text]
            elif text.strip() in FIXED_PAYLOADS:  # the widget's "Talk to a person": its intent
                intent = ((e.get("parse_data") or {}).get("intent") or {}).get("name") or text[1:]
                text = "(" + intent.replace("_", " ") + ")"
            lines.append(TranscriptLine(role=Role.customer, text=text, at=_at(e)))
        elif kind == "bot" and e.get("text"):
            meta = e.get("metadata") or {}
            buttons = [Button(title=b.get("title", ""), payload=b.get("payload", ""))
                       for b in (e.get("data") or {}).get("buttons") or []]
            offered.update({b.payload: b.title for b in buttons})
            author = meta.get("agent")
            lines.append(TranscriptLine(
                role=Role.agent if author else Role.bot, text=e["text"], at=_at(e), buttons=buttons,
                faq_id=meta.get("faq_id"), faq_score=meta.get("faq_score"),
                faq_decision=meta.get("faq_decision"), author=author,
                why=meta.get("faq_why") if isinstance(meta.get("faq_why"), dict) else None))
    return lines


def _intents(events: Iterable[dict[str, Any]]) -> list[str | None]:
    return [((e.get("parse_data") or {}).get("intent") or {}).get("name")
            for e in events if e.get("event") == "user"]


def summarise(events: list[dict[str, Any]], transcript: list[TranscriptLine]) -> Summary:
    customer = [line for line in transcript if line.role == Role.customer]
    intents = _intents(events)
    first = next((line.text for line, intent in zip(customer, intents)
                  if intent in QUESTION_INTENTS and any(c.isalnum() for c in line.text)), None)
    tried: list[str] = []
    for line in transcript:
        if line.faq_id and line.faq_decision in ("answer", "chosen") and line.faq_id not in tried:
            tried.append(line.faq_id)
    return Summary(first_question=first, faq_tried=tried,
                   last_message=customer[-1].text if customer else None)


def customer_info(slots: dict[str, Any], transcript: list[TranscriptLine]) -> CustomerInfo:
    email = slots.get("customer_email")
    if not is_email(email):
        found = (email_in(line.text) for line in transcript if line.role == Role.customer)
        email = next((e for e in found if e), None)
    return CustomerInfo(name=slots.get("customer_name"), email=email)


def build_packet(conversation_id: str, events: list[dict[str, Any]], slots: dict[str, Any],
                 reason: Reason, now: datetime | None = None) -> HandoffPacket:
    transcript = transcript_from_events(events)
    channel = next((e.get("input_channel") for e in reversed(events)
                    if e.get("event") == "user" and e.get("input_channel")), None)
    return HandoffPacket(
        conversation_id=conversation_id, channel=channel or "unknown",
        created_at=now or datetime.now(timezone.utc), reason=reason,
        summary=summarise(events, transcript), customer=customer_info(slots, transcript),
        transcript=transcript)
