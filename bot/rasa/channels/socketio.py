"""Rasa's socket.io channel, fixed for python-socketio 5.x, plus live pushes during a hand-off.

Drop-in for ``socketio:`` in ``credentials.yml``. Two Rasa 3.6 bugs with the locked
python-socketio 5 are fixed by re-registering two handlers:

- ``session_request`` calls ``AsyncServer.enter_room`` without awaiting it (it became a
  coroutine), so with ``session_persistence`` the customer never joined their room and missed
  every bot reply;
- ``SocketIOOutput.send_custom_json`` passes the payload as keyword arguments to ``emit`` and
  crashes the turn on any custom message; here it is sent as ``{"custom": ...}``.

On (re)connection the customer also gets what a person sent while they were away; while
connected, pushes to them (``bot.delivery``) reach their room at once.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncServer

from bot.rasa.channels.origins import socketio_origin_check
from bot.rasa.prefetch import prefetch
from bot.runtime import delivery
from bot.wire import MAX_SENDER_CHARS, CustomerPush, message_problem


def room_pusher(sio: AsyncServer, event: str, namespace: str) -> Callable[[str, CustomerPush], Awaitable[bool]]:
    """Emits to the customer's room on this server; False when they are not connected to it."""
    async def push(conversation_id: str, payload: CustomerPush) -> bool:
        if next(iter(sio.manager.get_participants(namespace, conversation_id)), None) is None:
            return False
        await sio.emit(event, payload, room=conversation_id, namespace=namespace)
        return True
    return push


class FixedSocketIOOutput(SocketIOOutput):
    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class SupportSocketIO(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        namespace = self.namespace or "/"
        sio.eio.cors_allowed_origins = socketio_origin_check  # Rasa allows any page to connect
        delivery().add_pusher(room_pusher(sio, self.bot_message_evt, namespace))

        async def refuse(sid: str, field: str, message: str) -> None:
            await sio.emit("error", {"error": message, "field": field}, room=sid, namespace=namespace)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            if data is not None and not isinstance(data, dict):
                return await refuse(sid, "body", 'send {"session_id": "<id>"} or nothing')
            session_id = (data or {}).get("session_id") or uuid.uuid4().hex
            if not isinstance(session_id, str) or len(session_id) > MAX_SENDER_CHARS:
                return await refuse(sid, "session_id", f"session_id must be a string of at most "
                                                       f"{MAX_SENDER_CHARS} characters")
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            for item in delivery().take(session_id):
                await sio.emit(self.bot_message_evt, item, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            if isinstance(data, dict) and isinstance(data.get(self.metadata_key), str):
                try:  # some widgets send their custom data as a JSON string
                    data = {**data, self.metadata_key: json.loads(data[self.metadata_key])}
                except ValueError:
                    return await refuse(sid, self.metadata_key, f"{self.metadata_key} is not valid JSON")
            if isinstance(data, dict) and not self.session_persistence:
                data = {**data, "session_id": sid}
            problem = message_problem(data, "session_id", self.metadata_key)
            if problem is not None:
                field, message = problem
                if field == "session_id":
                    message = "send session_request first, then include its session_id with every message"
                return await refuse(sid, field, message)
            sender_id = data["session_id"]
            metadata = data.get(self.metadata_key) or {}
            await prefetch(data.get("message"))
            await on_new_message(UserMessage(
                data.get("message", ""), FixedSocketIOOutput(sio, self.bot_message_evt), sender_id,
                input_channel=self.name(), metadata=metadata))

        return bp
