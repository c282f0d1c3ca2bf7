"""Typed payloads shared with the chat widget (``bot/web/static/widget.js`` reads exactly these).

Every message pushed to a customer outside their own request is a :class:`CustomerPush`; its
``custom`` part is one of the shapes below. A bot message answering from an FAQ entry carries
``faq: {"id": <entry>}`` on its last paragraph (socket.io and REST, :func:`text_paragraphs`), which the
widget's helpful / not helpful control sends back in a ``feedback`` event (REST clients: ``POST
/webhooks/rest/feedback``). A hand-off's status rides on the bot's own reply as
``custom`` = :class:`HandoffStatus` (``{"handoff": ...}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from bot.handoff.packet import TranscriptLine

__all__ = ["CustomerPush", "HandoffStatus", "handoff_status", "agent_message", "state_change", "bot_message",
           "message_problem", "HistoryItem", "history", "text_paragraphs"]
MAX_SENDER_CHARS = 255  # the tracker store's column


class HandoffStatusBody(TypedDict):
    id: str
    state: str
    position: int  # live customers ahead of this one, plus one; 0 when not queued
    live: bool  # a person can take it now; else it waits as a ticket


class HandoffStatus(TypedDict):
    handoff: HandoffStatusBody


class AgentMessageCustom(TypedDict):
    """A person wrote this (``custom.from == "agent"``)."""

    agent: str


class StateChangeCustom(TypedDict):
    """The hand-off moved: a person joined (``assigned``) or left (``resolved``, ...)."""

    state: str
    agent: str | None


class CustomerPush(TypedDict, total=False):
    recipient_id: str
    text: str
    buttons: list[dict[str, Any]]
    custom: dict[str, Any]  # AgentMessageCustom + {"from": "agent"}, StateChangeCustom or HandoffStatus
    delivery_id: int  # the stored feed row, on a live push: socket.io clients acknowledge it


def handoff_status(handoff_id: str, state: str, position: int, live: bool) -> HandoffStatus:
    return {"handoff": {"id": handoff_id, "state": state, "position": position, "live": live}}


def agent_message(conversation_id: str, text: str, agent: str) -> CustomerPush:
    return {"recipient_id": conversation_id, "text": text, "custom": {"from": "agent", "agent": agent}}


def state_change(conversation_id: str, text: str, state: str, agent: str | None) -> CustomerPush:
    return {"recipient_id": conversation_id, "text": text, "custom": {"state": state, "agent": agent}}


STAFF_ONLY = "faq_why"  # a bot message's decision metadata (bot.conversation.faq_turn.WHY): agents only


def bot_message(conversation_id: str, message: dict[str, Any]) -> CustomerPush:
    """A bot message Rasa produced outside the customer's request (after a hand-back)."""
    push: CustomerPush = {"recipient_id": conversation_id}
    push.update({k: v for k, v in message.items()  # type: ignore[typeddict-item]
                 if v and k not in ("recipient_id", STAFF_ONLY)})
    return push


def text_paragraphs(text: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """A bot text message as the channels send it, one message per paragraph (as Rasa does), the last
    paragraph of an FAQ answer carrying ``faq: {"id": ...}`` so the customer can vote on it.
    ``kwargs``: what Rasa passes to ``send_text_message`` (the message's metadata among them)."""
    parts = text.strip().split("\n\n")
    answered = kwargs.get("faq_id") if kwargs.get("faq_decision") in ("answer", "chosen") else None
    messages: list[dict[str, Any]] = [{"text": part} for part in parts]
    if answered:
        messages[-1]["faq"] = {"id": answered}
    return messages


# One line of a conversation, sent to a client that has none of it (the ``history`` event).
HistoryItem = TypedDict("HistoryItem", {"from": str, "text": str, "agent": str,
                                        "buttons": list[dict[str, str]]}, total=False)


def history(lines: list[TranscriptLine]) -> list[HistoryItem]:
    """A conversation's transcript as the widget shows it (``from``: customer, bot or agent);
    buttons only on the last line, as older choices are gone from the widget too."""
    items: list[HistoryItem] = []
    for line in lines:
        item: HistoryItem = {"from": line.role.value, "text": line.text}
        if line.author:
            item["agent"] = line.author
        items.append(item)
    if lines and lines[-1].buttons:
        items[-1]["buttons"] = [{"title": b.title, "payload": b.payload} for b in lines[-1].buttons]
    return items


def message_problem(body: Any, sender_key: str = "sender",
                    metadata_key: str = "metadata") -> tuple[str, str] | None:
    """(field, what is wrong) for an incoming customer message that is not one, else None: a JSON
    object with a non-empty string ``sender_key`` and a string ``message`` (REST: ``sender``;
    socket.io: ``session_id``), and an object as metadata when there is any."""
    if not isinstance(body, dict):
        return "body", f'send a JSON object: {{"{sender_key}": "<conversation id>", "message": "<text>"}}'
    sender = body.get(sender_key)
    if not isinstance(sender, str) or not sender.strip():
        return sender_key, f"{sender_key} must be a non-empty string: the conversation's id"
    if len(sender) > MAX_SENDER_CHARS:
        return sender_key, f"{sender_key} can have at most {MAX_SENDER_CHARS} characters"
    if not isinstance(body.get("message"), str):
        return "message", "message must be a string (the customer's text)"
    if metadata_key in body and body[metadata_key] is not None and not isinstance(body[metadata_key], dict):
        return metadata_key, f"{metadata_key}, when given, must be a JSON object"
    return None
