"""A conversation's events as the tracker store holds them, for routes that answer outside a turn
(the socket.io history, votes on answers, the console's earlier sessions)."""

from __future__ import annotations

from typing import Any


async def all_sessions(rasa_agent: Any, conversation_id: str) -> list[dict[str, Any]]:
    """Every session's events of the conversation (Rasa's event dicts, oldest first)."""
    if rasa_agent is None or rasa_agent.tracker_store is None:
        return []
    tracker = await rasa_agent.tracker_store.retrieve_full_tracker(conversation_id)
    return [e.as_dict() for e in tracker.events] if tracker else []


async def stored_events(app: Any, conversation_id: str) -> list[dict[str, Any]]:
    """:func:`all_sessions` of the Sanic ``app``'s Rasa agent; none before it has one."""
    return await all_sessions(getattr(getattr(app, "ctx", None), "agent", None), conversation_id)
