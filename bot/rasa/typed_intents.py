"""A ``/intent{...}`` message is an intent only when it is a button the bot has just offered.

Rasa 3.6 takes any text that starts with ``/`` as an intent with entities (``RegexMessageHandler``,
the last node of the NLU graph), so a customer could type ``/restart`` during a hand-off or
``/give_email{"email": "<img ...>"}``. Here the processor's parse keeps that node only for a payload
offered as a button in the bot's messages since the customer's previous message (or one of the
widget's own fixed buttons, ``FIXED_PAYLOADS``); any other text runs through the NLU pipeline
without it, as ordinary text, which the FAQ and the fallback handle.

``rasa test`` and ``rasa shell`` do not run through the launcher, so stories still write intents
as ``/intent``. Rasa's ``/model/parse`` API has no conversation: there, too, ``/...`` is text.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from bot.handoff.packet import FIXED_PAYLOADS

PREFIX = "/"


def offered_payloads(events: Iterable[dict[str, Any]]) -> set[str]:
    """The button payloads of the bot's messages since the customer's latest message.

    ``events`` are a conversation's events as dicts, oldest first; only the latest turn is read."""
    offered: set[str] = set()
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "user":
            break
        if kind == "bot":
            data = event.get("data") or {}
            for button in [*(data.get("buttons") or []), *(data.get("quick_replies") or [])]:
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    offered.add(button["payload"].strip())
    return offered


def _payload_key(text: str) -> tuple[str, Any] | None:
    """``/rate{"rating": "5"}`` -> ("rate", {"rating": "5"}), however the JSON is spaced."""
    intent, brace, entities = text[len(PREFIX):].partition("{")
    if not brace:
        return intent.strip(), None
    try:
        return intent.strip(), json.loads(brace + entities)
    except ValueError:
        return None


def is_offered(text: str, offered: Iterable[str]) -> bool:
    """Whether ``text`` (a message starting with ``/``) is one of the ``offered`` payloads."""
    text = text.strip()
    offered = set(offered) | FIXED_PAYLOADS
    if text in offered:
        return True
    key = _payload_key(text)
    return key is not None and any(_payload_key(p) == key for p in offered if p.startswith(PREFIX))


def takes_as_intent(text: str | None, events: Iterable[dict[str, Any]]) -> bool:
    """A message is read as ``/intent{entities}`` only when it is a payload the bot just offered."""
    text = (text or "").strip()
    return not text.startswith(PREFIX) or is_offered(text, offered_payloads(events))


def latest_turn(tracker: Any) -> list[dict[str, Any]]:
    """The events after the customer's latest message (as dicts, oldest first), that message included."""
    from rasa.shared.core.events import BotUttered, UserUttered

    found: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if isinstance(event, (BotUttered, UserUttered)):
            found.append(event.as_dict())
            if isinstance(event, UserUttered):
                break
    return found[::-1]


def _parse_as_text(self: Any, message: Any, tracker: Any, only_output_properties: bool) -> dict[str, Any]:
    """``MessageProcessor._parse_message_with_graph`` up to the node before ``RegexMessageHandler``."""
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER

    target = self.model_metadata.nlu_target
    target = self.model_metadata.predict_schema.nodes[target].needs.get("messages", target)
    results = self.graph_runner.run(
        inputs={PLACEHOLDER_MESSAGE: [message], PLACEHOLDER_TRACKER: tracker}, targets=[target])
    parse_data: dict[str, Any] = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
    parse_data.update(results[target][0].as_dict(only_output_properties=only_output_properties))
    parse_data["text"] = message.text
    return parse_data


def parse_with_graph(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def parse(self: Any, message: Any, tracker: Any, only_output_properties: bool = True) -> dict[str, Any]:
        if takes_as_intent(message.text, latest_turn(tracker)):
            return original(self, message, tracker, only_output_properties)
        return _parse_as_text(self, message, tracker, only_output_properties)

    parse.original = original  # type: ignore[attr-defined]
    return parse


def install_typed_intent_check() -> None:
    from rasa.core.processor import MessageProcessor

    current = MessageProcessor._parse_message_with_graph
    original = getattr(current, "original", current)
    MessageProcessor._parse_message_with_graph = parse_with_graph(original)  # type: ignore[method-assign]
