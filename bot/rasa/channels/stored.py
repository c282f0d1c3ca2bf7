"""A conversation's events as the tracker store holds them, for channel routes that answer outside a
turn (the socket.io history, votes on answers)."""

from __future__ import annotations

from typing import Any


async def stored_events(app: Any, conversation_id: str) -> list[dict[str, Any]]:
    """Every session's events of the conversation (Rasa's event dicts, oldest first); none before the
    Sanic ``app`` has its Rasa agent."""
    rasa_agent = getattr(getattr(app, "ctx", None), "agent", None)
    if rasa_agent is None or rasa_agent.tracker_store is None:
        return []
    tracker = await rasa_agent.tracker_store.retrieve_full_tracker(conversation_id)
    return [e.as_dict() for e in tracker.events] if tracker else []
