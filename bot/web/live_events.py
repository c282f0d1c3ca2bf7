"""Live updates to the agents' consoles: what they hear, and the one place that emits it.

Everything a console hears live goes through :meth:`AgentEvents.emit`: a hand-off opened or changed
(``handoff``), a message in a hand-off (``message``), the customer typing (``typing``). It emits to
the room :data:`AGENTS` of the socket.io namespace :data:`NAMESPACE`, which only sockets that passed
the staff check of ``bot.web.console_live`` join; customers' sockets are never in it.

One Rasa node today: the ``AsyncServer`` of Rasa's socket.io channel (attached at start-up) reaches
the agents connected to this process. For several nodes (issue 20) give that server a
python-socketio ``AsyncRedisManager`` (``AsyncServer(client_manager=...)``): ``emit(room=AGENTS)``
then reaches agents on every node and nothing here changes. In a process without that server (the
action server, a unit test) emitting does nothing; the consoles' polling still shows the change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal, TypedDict

from bot.handoff.states import ASSIGNED
from bot.handoff.store import Message

log = logging.getLogger(__name__)
NAMESPACE = "/staff"
AGENTS = "agents"
# what happened to a hand-off; a state's name, except "opened" (new) and "claimed" (assigned)
Kind = Literal["opened", "claimed", "resolved", "returned_to_bot", "abandoned", "transferred"]


class HandoffEvent(TypedDict):
    kind: str
    handoff: dict[str, Any]  # the queue's row (bot.web.console.handoff_row)


class MessageRow(TypedDict):
    id: int
    role: str  # customer, bot, agent, system
    author: str | None
    at: str
    text: str


class MessageEvent(TypedDict):
    handoff_id: str
    conversation_id: str
    message: MessageRow


class TypingEvent(TypedDict):
    handoff_id: str
    conversation_id: str


def kind_of(state: str) -> str:
    """The event kind of a hand-off that just entered ``state``."""
    return "claimed" if state == ASSIGNED else state


def handoff_event(kind: str, row: dict[str, Any]) -> HandoffEvent:
    return {"kind": kind, "handoff": row}


def message_row(m: Message, text: str) -> MessageRow:
    """A hand-off message as the console shows it; ``text`` as the agent may see it."""
    return {"id": m.id, "role": m.role, "author": m.author, "at": m.at.isoformat(), "text": text}


def message_event(handoff_id: str, conversation_id: str, row: MessageRow) -> MessageEvent:
    return {"handoff_id": handoff_id, "conversation_id": conversation_id, "message": row}


def typing_event(handoff_id: str, conversation_id: str) -> TypingEvent:
    return {"handoff_id": handoff_id, "conversation_id": conversation_id}


class AgentEvents:
    """Emits to every agent console connected to the socket.io server it is attached to."""

    def __init__(self) -> None:
        self.server: Any = None  # a socketio.AsyncServer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    def attach(self, server: Any) -> None:
        self.server = server

    def loop_seen(self) -> None:
        """Remember the server's event loop (called from its handlers) for :meth:`emit_soon`."""
        self._loop = asyncio.get_running_loop()

    async def emit(self, event: str, payload: Any) -> None:
        if self.server is None:
            return
        await self.server.emit(event, payload, room=AGENTS, namespace=NAMESPACE)

    def emit_soon(self, event: str, payload: Any) -> None:
        """From synchronous code (the event broker): emitted by the server's loop, never raising."""
        if self.server is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            task = running.create_task(self.emit(event, payload))
            self._pending.add(task)  # a task nobody holds may be collected before it runs
            task.add_done_callback(self._pending.discard)
            task.add_done_callback(_log_failure)
        elif self._loop is not None and self._loop.is_running():  # another thread: hand it over
            handed = asyncio.run_coroutine_threadsafe(self.emit(event, payload), self._loop)
            handed.add_done_callback(_log_failure)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("could not emit to the agents' consoles: %s", future.exception())
