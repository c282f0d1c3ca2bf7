"""Rasa's socket.io channel, fixed for python-socketio 5.x, plus live pushes during a hand-off.

Drop-in for ``socketio:`` in ``credentials.yml``. Two Rasa 3.6 bugs with the locked
python-socketio 5 are fixed by re-registering two handlers:

- ``session_request`` calls ``AsyncServer.enter_room`` without awaiting it (it became a
  coroutine), so with ``session_persistence`` the customer never joined their room and missed
  every bot reply;
- ``SocketIOOutput.send_custom_json`` passes the payload as keyword arguments to ``emit`` and
  crashes the turn on any custom message; here it is sent as ``{"custom": ...}``.

Agents' consoles use the namespace ``/staff`` of this same server (``bot.web.console_live``); the
widget's ``user_typing`` reaches them there during a hand-off.

On (re)connection the customer also gets what a person sent while they were away; while
connected, pushes to them (``bot.delivery``) reach their room at once. Each push carries its
``delivery_id``, which the client acknowledges (``delivered`` ``{"ids": [...]}``); what it has not
acknowledged is sent again on its next ``session_request``.

A conversation id is not a key (``bot.access.conversations``): ``session_request`` without a
``session_id`` starts a conversation and ``session_confirm`` answers ``{"session_id", "token"}``;
to continue one, the client sends both, and a socket may write only to the conversation it
joined. A socket that connected with a site's JWT (``auth: {"token": ...}``) always joins its
customer's conversation. ``"history": true`` in ``session_request`` asks for the conversation so
far (a ``history`` event), for a device that has none of it. Refusals are ``error`` events
``{"error", "field"}``, never silence (a turn that fails says to send the message again); the message
limits of ``bot.access.limits`` apply.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError

from bot.access.conversations import AccessDenied, Issued, check, new_conversation, user_conversation
from bot.cluster import async_client
from bot.cluster.presence import Presence
from bot.cluster.rooms import SharedRooms
from bot.handoff.packet import transcript_from_events
from bot.inbox.votes import VoteRefused, cast, parse_vote
from bot.rasa.channels.origins import socketio_origin_check
from bot.rasa.channels.rest import TURN_FAILED
from bot.rasa.channels.stored import stored_events
from bot.rasa.launcher import MAX_BODY_BYTES
from bot.rasa.prefetch import prefetch
from bot.runtime import delivery, inbox, message_limits, settings
from bot.web import console_live
from bot.wire import MAX_SENDER_CHARS, CustomerPush, history, message_problem, text_paragraphs

log = logging.getLogger(__name__)
Shared = Callable[[], Presence | None]
MAX_ACKNOWLEDGED = 100  # delivery ids in one "delivered" event


def room_pusher(sio: AsyncServer, event: str, namespace: str,
                presence: Shared = lambda: None) -> Callable[[str, CustomerPush], Awaitable[bool]]:
    """Emits to the customer's room; False when they are connected neither to this server nor, with
    several nodes (``presence``), to another (whose Redis manager then passes the emit on)."""
    async def push(conversation_id: str, payload: CustomerPush) -> bool:
        here = next(iter(sio.manager.get_participants(namespace, conversation_id)), None) is not None
        shared = presence()
        if not here and (shared is None or not await shared.reachable(conversation_id)):
            return False
        await sio.emit(event, payload, room=conversation_id, namespace=namespace)
        return True
    return push


class FixedSocketIOOutput(SocketIOOutput):
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """As Rasa's (one message per paragraph), the last paragraph of an FAQ answer carrying
        ``faq: {"id": ...}`` so the widget can ask whether it helped."""
        for message in text_paragraphs(text, kwargs):
            await self._send_message(recipient_id, message)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class SupportSocketIO(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def jwt_conversation(self, web_token: str) -> Issued:
        """credentials.yml's ``jwt_key`` / ``jwt_method`` (Rasa's convention), else the settings'."""
        if self.jwt_key:
            return user_conversation(settings(), web_token, self.jwt_key, self.jwt_algorithm or "HS256")
        return user_conversation(settings(), web_token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        namespace = self.namespace or "/"
        sio.eio.cors_allowed_origins = socketio_origin_check  # Rasa allows any page to connect
        sio.eio.max_http_buffer_size = MAX_BODY_BYTES  # engineio's default: 1 MB per message
        shared: list[Presence] = []  # several nodes: created in the server's loop on first use
        rooms = SharedRooms(settings().redis_url, "supportbot-socketio") if settings().redis_url else None
        if rooms is not None:  # rooms across nodes: an emit reaches the node holding the socket
            rooms.set_server(sio)
            sio.manager = rooms

        async def hand_over(conversations: list[str]) -> None:
            """After Redis came back: what other nodes kept for this node's customers meanwhile."""
            for conversation_id in conversations:
                for item in delivery().pending(conversation_id):
                    await sio.emit(self.bot_message_evt, item, room=conversation_id, namespace=namespace)

        def presence() -> Presence | None:
            if rooms is None:
                return None
            if not shared:
                shared.append(Presence(async_client(settings().redis_url), ready=lambda: rooms.listening,
                                       on_back=hand_over))
            return shared[0]

        async def left(conversation_id: str, sid: str) -> None:
            here = presence()
            if here is not None:
                await here.left(conversation_id, sid)

        delivery().add_pusher(room_pusher(sio, self.bot_message_evt, namespace, presence))
        typing = console_live.attach(sio)  # the agents' namespace (/staff) on this same server
        server: dict[str, Any] = {}  # the Sanic app, seen on the first connection

        async def refuse(sid: str, field: str, message: str) -> None:
            await sio.emit("error", {"error": message, "field": field}, room=sid, namespace=namespace)

        async def events(conversation_id: str) -> list[dict[str, Any]]:
            return await stored_events(server.get("app"), conversation_id)

        async def transcript(conversation_id: str) -> list[Any]:
            return history(transcript_from_events(await events(conversation_id)))

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            if request is not None:
                server.setdefault("app", request.app)
            web_token = auth.get("token") if isinstance(auth, dict) else None
            if not web_token:
                return True  # an anonymous visitor: the server issues their conversation
            try:
                user = self.jwt_conversation(str(web_token))
            except AccessDenied as exc:
                raise ConnectionRefusedError(str(exc), {"error": str(exc), "field": "token"}) from None
            await sio.save_session(sid, {"user": user}, namespace=namespace)
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            if data is not None and not isinstance(data, dict):
                return await refuse(sid, "body", 'send {"session_id": "<id>", "token": "<token>"} or nothing')
            data = data or {}
            session = await sio.get_session(sid, namespace=namespace)
            issued: Issued | None = session.get("user")
            if issued is None and data.get("session_id") is not None:
                session_id = data["session_id"]
                if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_SENDER_CHARS:
                    return await refuse(sid, "session_id", "session_id must be a non-empty string of at "
                                                           f"most {MAX_SENDER_CHARS} characters")
                try:
                    check(settings(), session_id, data.get("token"))
                except AccessDenied as exc:
                    return await refuse(sid, exc.field, f"{exc}; send session_request without a session_id "
                                                        "to start a new conversation")
                issued = Issued(session_id, data["token"])
            issued = issued or new_conversation(settings())
            # the history when asked for, or when this socket gets another conversation than the one
            # it asked for (a customer who logged in on a device that had an anonymous chat)
            send_history = data.get("history") is True or data.get("session_id") not in (None, issued.sender)
            joined = session.get("conversation")
            if joined and joined != issued.sender:
                await sio.leave_room(sid, joined, namespace=namespace)
                await left(joined, sid)
            await sio.save_session(sid, {**session, "conversation": issued.sender}, namespace=namespace)
            if self.session_persistence:
                await sio.enter_room(sid, issued.sender, namespace=namespace)
                here = presence()
                if here is not None:
                    await here.joined(issued.sender, sid)
            await sio.emit("session_confirm", {"session_id": issued.sender, "token": issued.token,
                                               "max_message_chars": settings().max_message_chars},
                           room=sid, namespace=namespace)
            try:  # missed, or pushed and not acknowledged; with a history, that holds them too
                missed = delivery().pending(issued.sender) if not send_history else []
                if send_history:
                    delivery().take(issued.sender)
            except Exception:  # the feed's database is down: kept there for the next connection
                log.exception("socket.io: the stored feed of %s could not be read", issued.sender)
                missed = []
            if send_history:
                await sio.emit("history", await transcript(issued.sender), room=sid, namespace=namespace)
                return None
            for item in missed:
                await sio.emit(self.bot_message_evt, item, room=sid, namespace=namespace)
            return None

        @sio.on("delivered", namespace=self.namespace)
        async def delivered(sid: str, data: Any = None) -> None:
            """``{"ids": [<delivery_id>, ...]}``: the client has these pushes of the conversation this
            socket joined; the others are sent again when it reconnects."""
            ids = data.get("ids") if isinstance(data, dict) else None
            if not (isinstance(ids, list) and 0 < len(ids) <= MAX_ACKNOWLEDGED
                    and all(type(i) is int for i in ids)):
                return await refuse(sid, "ids", f'send {{"ids": [<delivery_id>, ...]}} with 1 to '
                                                f"{MAX_ACKNOWLEDGED} ids from bot_uttered")
            joined = (await sio.get_session(sid, namespace=namespace)).get("conversation")
            if not joined:
                return await refuse(sid, "session_id", "send session_request first")
            delivery().acknowledged(joined, ids)
            return None

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str, *reason: Any) -> None:
            joined = (await sio.get_session(sid, namespace=namespace)).get("conversation")
            if joined:
                await left(joined, sid)

        @sio.on("feedback", namespace=self.namespace)
        async def feedback(sid: str, data: Any = None) -> None:
            """``{"session_id", "faq_id", "helpful": true|false}``: the customer's vote on an answer
            (checked by ``bot.inbox.votes``, as REST's)."""
            try:
                vote = parse_vote(data, "session_id")
                joined = (await sio.get_session(sid, namespace=namespace)).get("conversation")
                if not joined or vote.conversation_id != joined:
                    raise VoteRefused("session_id", "this socket has not joined that conversation")
                await cast(vote, inbox(), message_limits(), events)
            except VoteRefused as exc:
                return await refuse(sid, exc.field, str(exc))
            await sio.emit("feedback_confirm", {"faq_id": vote.faq_id, "helpful": vote.helpful},
                           room=sid, namespace=namespace)
            return None

        @sio.on("user_typing", namespace=self.namespace)
        async def user_typing(sid: str, data: Any = None) -> None:
            """The widget says its customer is typing (throttled): agents hear it during a hand-off of
            the conversation this socket joined, whatever ``data`` claims."""
            joined = (await sio.get_session(sid, namespace=namespace)).get("conversation")
            if joined:
                await typing.customer(joined)

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
            joined = (await sio.get_session(sid, namespace=namespace)).get("conversation")
            if problem is None and self.session_persistence and data["session_id"] != joined:
                problem = ("session_id", "this socket has not joined that conversation")
            if problem is not None:
                field, message = problem
                if field == "session_id":
                    message += ": send session_request first, then include its session_id with every message"
                return await refuse(sid, field, message)
            sender_id, text = data["session_id"], data["message"]
            limit = message_limits().refusal(sender_id, text, data.get(self.metadata_key))
            if limit is not None:
                return await refuse(sid, limit.field, limit.message)
            try:
                await prefetch(text, sender_id)
                await on_new_message(UserMessage(
                    text, FixedSocketIOOutput(sio, self.bot_message_evt), sender_id,
                    input_channel=self.name(), metadata=data.get(self.metadata_key) or {}))
            except Exception:  # the turn failed (a store is down): say so, never silence
                log.exception("socket.io turn of %s failed", sender_id)
                return await refuse(sid, "message", TURN_FAILED)
            return None

        return bp
