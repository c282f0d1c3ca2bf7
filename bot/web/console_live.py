"""The console's live updates: the staff socket.io namespace, who may join it, what is announced.

Agents' consoles connect to the namespace ``/staff`` of the socket.io server the bot already runs
for customers (Rasa's socket.io channel, which calls :func:`attach` at start-up). They connect
through ``/console/socket.io/`` (:func:`add_socket_route`), so the console's session cookie, scoped
to ``/console``, comes along; at connect :func:`authorize` wants the console's own origin, a live
staff session and a console role, and refuses anything else with ``{"error", "field"}``. No CORS
grant is ever sent on that path. Customers' sockets never join the agents' room.

What is announced (a hand-off opened or changed, a message in it, the customer typing) is built
here and emitted through ``bot.web.live_events`` (the one emitter, ready for several nodes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from sanic import Blueprint, response
from sanic.request import Request
from socketio.exceptions import ConnectionRefusedError

from bot.errors import FieldError
from bot.handoff.service import HandoffService
from bot.handoff.store import Handoff, Message
from bot.runtime import agent_events, handoffs, staff
from bot.staff.accounts import Staff, StaffStore
from bot.staff.auth import COOKIE, error
from bot.web.console import ROLES, handoff_update, shown_text
from bot.web.live_events import AGENTS, NAMESPACE, AgentEvents, message_event, message_row, typing_event

log = logging.getLogger(__name__)
TYPING_EVERY = 2.0  # seconds: at most one "typing" per conversation this often, whatever the widget sends
SWEEP_EVERY = 30.0  # seconds between checks that each connected console's session is still live


class Refused(FieldError):
    """Why a socket may not join the agents' room; ``field`` names what to fix."""

    status = 403


def same_origin(origin: str | None, host: str) -> bool:
    """No ``Origin`` (not a cross-site browser request) or the console's own host."""
    return not origin or urlsplit(origin).netloc.lower() == host.lower()


def session_token(environ: dict[str, Any]) -> str:
    """The staff session cookie that came with a connection; empty when none (or unreadable)."""
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return ""
    return cookies[COOKIE].value if COOKIE in cookies else ""


def authorize(environ: dict[str, Any], store: StaffStore, roles: Iterable[str] = ROLES) -> Staff:
    """The staff member behind a socket.io connection (its WSGI ``environ``), or :class:`Refused`."""
    allowed = tuple(roles)
    host, origin = environ.get("HTTP_HOST", ""), environ.get("HTTP_ORIGIN")
    if not same_origin(origin, host):
        raise Refused("origin", f"live updates are for the console's own page ({host}); "
                                f"{origin} may not connect")
    token = session_token(environ)
    if not token:
        raise Refused("session", "log in to the console first: no staff session came with the connection")
    who = store.authenticate(token)
    if who is None:
        raise Refused("session", "the staff session has ended or expired; log in again")
    if who.role not in allowed:
        raise Refused("role", f"live updates need the role {' or '.join(allowed)}; {who.name} is {who.role}")
    return who


class CustomerTyping:
    """"The customer is typing…" for the agents, throttled per conversation, only during a hand-off."""

    def __init__(self, events: AgentEvents, service: Callable[[], HandoffService] = handoffs,
                 every: float = TYPING_EVERY, clock: Callable[[], float] = time.monotonic):
        self.events, self.service, self.every, self.clock = events, service, every, clock
        self._last: dict[str, float] = {}

    async def customer(self, conversation_id: str) -> bool:
        """True when the agents were told; False when too soon after the last time or no hand-off."""
        now = self.clock()
        if now - self._last.get(conversation_id, float("-inf")) < self.every:
            return False
        if len(self._last) > 10_000:  # forget conversations that stopped typing long ago
            self._last = {c: t for c, t in self._last.items() if now - t < self.every}
        self._last[conversation_id] = now
        h = self.service().store.active_for(conversation_id)
        if h is None:
            return False
        await self.events.emit("typing", typing_event(h.id, conversation_id))
        return True


async def sweep(sio: Any, store: StaffStore, roles: Iterable[str] = ROLES) -> int:
    """Disconnect this server's staff sockets whose session ended (logged out, expired, the role
    changed); the others' agents are seen now (a connected console counts as online). How many ended."""
    ended = 0
    for sid, _ in list(sio.manager.get_participants(NAMESPACE, AGENTS)):
        token = (await sio.get_session(sid, namespace=NAMESPACE) or {}).get("token")
        who = store.authenticate(token) if token else None
        if who is None or who.role not in tuple(roles):
            await sio.disconnect(sid, namespace=NAMESPACE)
            ended += 1
    return ended


def attach(sio: Any, store: Callable[[], StaffStore] = staff, every: float = SWEEP_EVERY) -> CustomerTyping:
    """Serve the staff namespace on ``sio`` (Rasa's socket.io server) and emit agents' updates on it."""
    events = agent_events()
    events.attach(sio)
    sweeping: list[asyncio.Task[None]] = []  # started with the first console, in the server's loop

    async def keep_sweeping() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await sweep(sio, store())
            except Exception:  # a database hiccup: try again next time
                log.exception("could not check the staff sockets' sessions")

    @sio.on("connect", namespace=NAMESPACE)
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        events.loop_seen()
        try:
            who = authorize(environ, store())
        except Refused as exc:
            # the client's connect_error: err.message, and err.data {"error", "field"}
            raise ConnectionRefusedError(str(exc), {"error": str(exc), "field": exc.field}) from None
        await sio.save_session(sid, {"agent": who.name, "token": session_token(environ)}, namespace=NAMESPACE)
        await sio.enter_room(sid, AGENTS, namespace=NAMESPACE)
        if not sweeping:
            sweeping.append(asyncio.create_task(keep_sweeping()))
        return True

    return CustomerTyping(events)


def add_socket_route(bp: Blueprint) -> None:
    """``/socket.io/`` on the console's blueprint: the same socket.io server, under the cookie's path."""

    @bp.route("/socket.io/", methods=["GET", "POST", "OPTIONS"])
    async def staff_socket(request: Request) -> response.HTTPResponse:
        sio = agent_events().server
        if sio is None:
            return error("live updates are not running on this server; the console refreshes by itself", 503)
        origin = request.headers.get("origin")
        if not same_origin(origin, request.headers.get("host", "")):
            return error(f"live updates are for the console's own page; {origin} may not connect", 403)
        return await sio.handle_request(request)


def announce_handoff(service: HandoffService, h: Handoff, kind: str, events: AgentEvents | None = None) -> None:
    """From synchronous code (the event broker): a hand-off opened or changed."""
    (events or agent_events()).emit_soon("handoff", handoff_update(service, h, kind))


def announce_message(service: HandoffService, h: Handoff, m: Message,
                     events: AgentEvents | None = None) -> None:
    """From synchronous code (the event broker): a message of the customer or the bot in a hand-off."""
    row = message_row(m, shown_text(service, m))
    (events or agent_events()).emit_soon("message", message_event(h.id, h.conversation_id, row))
