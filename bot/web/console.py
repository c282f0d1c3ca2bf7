"""The agent console's page and JSON API (mounted at ``/console`` by ``bot.rasa.channels.console``).

Agents and admins only (``bot.staff.auth``: session cookie, role, CSRF token). The page renders
everything customers typed as text. The rules of a hand-off live in ``HandoffService``; what the
console does to a Rasa conversation goes through a bridge (``bot.rasa.bridge.RasaBridge``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Protocol

from sanic import Blueprint, response
from sanic.request import Request

from bot import wire
from bot.db import utcnow
from bot.handoff import messages as say
from bot.handoff.service import HandoffService
from bot.handoff.states import (
    ABANDONED,
    ACTIVE,
    ASSIGNED,
    QUEUED,
    RESOLVED,
    RETURNED_TO_BOT,
    HandoffError,
    HandoffNotFound,
)
from bot.handoff.store import Handoff, Message
from bot.handoff.tickets import TicketReplies
from bot.runtime import agent_events, handoffs, inbox, staff
from bot.staff.accounts import ADMIN, AGENT
from bot.staff.auth import SECURITY_HEADERS, add_error_handlers, add_login_routes, error, ok, staff_route
from bot.web import console_desk
from bot.web.assets import page_routes
from bot.web.console_assist import add_assist_routes
from bot.web.live_events import handoff_event, kind_of, message_event, message_row

MAX_MESSAGE_CHARS = 4000
STATIC = {"console.js", "console.css", "console_live.js", "console_live.css", "markdown.js", "staff.js",
          "console_assist.js", "console_assist.css", "console_desk.js", "console_desk.css"}
VENDOR = {"socket.io.min.js", "marked.umd.js", "purify.min.js"}
ROLES = (AGENT, ADMIN)


class Bridge(Protocol):
    async def events(self, conversation_id: str) -> list[dict[str, Any]]: ...

    async def tell(self, push: wire.CustomerPush, *, agent: str | None = None, pause: bool = False) -> None: ...

    async def resume(self, push: wire.CustomerPush | None, conversation_id: str, state: str) -> None: ...


def handoff_row(h: Handoff, service: HandoffService, position: int) -> dict[str, Any]:
    return {"id": h.id, "conversation_id": h.conversation_id, "state": h.state, "reason": h.reason,
            "agent": h.agent, "ticket": h.ticket, "channel": h.channel,
            "first_question": service.for_agent(h.first_question),
            "customer_email": service.for_agent(h.customer_email),
            "created_at": h.created_at.isoformat(), "position": position,
            "wait_seconds": round((utcnow() - h.created_at).total_seconds())}


def handoff_update(service: HandoffService, h: Handoff, kind: str | None = None) -> dict[str, Any]:
    """The agents' live ``handoff`` event: ``kind`` (else the one of its state) and the queue's row."""
    row = handoff_row(h, service, service.store.queue_position(h.id))
    return dict(handoff_event(kind or kind_of(h.state), row))


def shown_text(service: HandoffService, m: Message) -> str:
    """A hand-off message's text as the console shows it (agents' own messages and notes as written)."""
    return m.text if m.role in ("agent", "note") else service.for_agent(m.text) or ""


def agent_route(csrf: bool = True) -> Callable:
    """Logged-in agents and admins only; a hand-off error becomes a 404 or a 409 that says why."""
    guard = staff_route(staff, ROLES, csrf=csrf)

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        async def inner(request: Request, *args: Any, **kwargs: Any) -> response.HTTPResponse:
            try:
                return await handler(request, *args, **kwargs)
            except HandoffNotFound as exc:
                return error(str(exc), 404)
            except HandoffError as exc:
                return error(str(exc), 409)
        return guard(inner)
    return wrap


def blueprint(bridge: Callable[[Request], Bridge]) -> Blueprint:
    """The console; ``bridge(request)`` edits the request's server's conversations."""
    bp = Blueprint("agent_console", __name__)

    add_error_handlers(bp)

    add_login_routes(bp, staff, cookie_path="/console", roles=ROLES,
                     session_hours=lambda: handoffs().settings.agent_session_hours,
                     trusted_proxies=lambda: handoffs().settings.proxy_list,
                     redis_url=lambda: handoffs().settings.redis_url)

    page_routes(bp, "console.html", STATIC, SECURITY_HEADERS, VENDOR)

    @bp.route("/api/queue", methods=["GET"])
    @agent_route(csrf=False)
    async def queue(request: Request) -> response.HTTPResponse:
        """Oldest first; ``position`` counts within its own queue (live chats, tickets), as
        ``HandoffStore.queue_position`` does."""
        service = handoffs()
        rows, positions = [], {True: 0, False: 0}  # ticket? -> queued ones seen so far
        for h in service.store.list_handoffs(ACTIVE):
            positions[h.ticket] += h.state == QUEUED
            rows.append(handoff_row(h, service, positions[h.ticket] if h.state == QUEUED else 0))
        return ok({"handoffs": rows, "agents_online": service.agents_online(),
                   "wait_warning_seconds": service.settings.wait_warning_seconds})

    @bp.route("/api/handoffs/<hid>", methods=["GET"])
    @agent_route(csrf=False)
    async def detail(request: Request, hid: str) -> response.HTTPResponse:
        service = handoffs()
        h = service.store.get(hid)
        packet = h.packet.dict()
        for line in packet["transcript"]:
            line["text"] = service.for_agent(line["text"])
        for key in ("first_question", "last_message"):
            packet["summary"][key] = service.for_agent(packet["summary"][key])
        packet["customer"]["email"] = service.for_agent(packet["customer"]["email"])
        return ok({"handoff": handoff_row(h, service, service.store.queue_position(hid)),
                   "summary": packet["summary"], "customer": packet["customer"],
                   "transcript": _jsonable(packet["transcript"]), "messages": _messages(service, hid, 0),
                   "history": _jsonable(service.store.history(hid)), "emails": _emails(h)})

    @bp.route("/api/handoffs/<hid>/messages", methods=["GET"])
    @agent_route(csrf=False)
    async def new_messages(request: Request, hid: str) -> response.HTTPResponse:
        service = handoffs()
        h = service.store.get(hid)
        after = request.args.get("after", "0") or "0"
        if not after.isdigit():
            return error("after must be a message id (a whole number, 0 for all)", 400)
        return ok({"state": h.state, "agent": h.agent, "ticket": h.ticket,
                   "customer_email": service.for_agent(h.customer_email),
                   "messages": _messages(service, hid, int(after)), "emails": _emails(h)})

    @bp.route("/api/handoffs/<hid>/claim", methods=["POST"])
    @agent_route()
    async def claim(request: Request, hid: str) -> response.HTTPResponse:
        service, agent = handoffs(), request.ctx.agent
        h = service.claim(hid, agent)
        await agent_events().emit("handoff", handoff_update(service, h))
        await bridge(request).tell(wire.state_change(h.conversation_id, say.joined(agent), ASSIGNED, agent),
                                   pause=True)
        return ok({"handoff": handoff_row(h, service, 0)})

    @bp.route("/api/handoffs/<hid>/messages", methods=["POST"])
    @agent_route()
    async def send(request: Request, hid: str) -> response.HTTPResponse:
        agent = request.ctx.agent
        text = _text(request)
        if isinstance(text, response.HTTPResponse):
            return text
        h, message = handoffs().send(hid, agent, text)
        row = message_row(message, shown_text(handoffs(), message))
        await agent_events().emit("message", message_event(h.id, h.conversation_id, row))
        await bridge(request).tell(wire.agent_message(h.conversation_id, text, agent), agent=agent)
        return ok({"id": message.id})

    @bp.route("/api/handoffs/<hid>/email", methods=["POST"])
    @agent_route()
    async def email_reply(request: Request, hid: str) -> response.HTTPResponse:
        """A reply to a ticket: stored with its e-mail (sent by the worker), and recorded in the
        conversation, so the customer sees it in the widget when they come back."""
        agent = request.ctx.agent
        text = _text(request)
        if isinstance(text, response.HTTPResponse):
            return text
        sent = tickets().reply(hid, agent, text)
        row = message_row(sent.message, shown_text(handoffs(), sent.message))
        await agent_events().emit("message", message_event(hid, sent.handoff.conversation_id, row))
        await bridge(request).tell(wire.agent_message(sent.handoff.conversation_id, text, agent), agent=agent)
        return ok({"id": sent.message.id, "email": sent.email})

    @bp.route("/api/handoffs/<hid>/emails/<eid:int>/retry", methods=["POST"])
    @agent_route()
    async def email_again(request: Request, hid: str, eid: int) -> response.HTTPResponse:
        return ok({"email": tickets().send_again(hid, eid)})

    async def finish(request: Request, hid: str, outcome: str) -> response.HTTPResponse:
        service, agent = handoffs(), request.ctx.agent
        h = service.finish(hid, agent, outcome)
        await agent_events().emit("handoff", handoff_update(service, h))
        push = None if outcome == ABANDONED else wire.state_change(  # abandoned: the customer has gone
            h.conversation_id, say.left(agent, outcome == RESOLVED), h.state, h.agent)
        await bridge(request).resume(push, h.conversation_id, h.state)
        return ok({"handoff": handoff_row(h, service, 0)})

    @bp.route("/api/handoffs/<hid>/resolve", methods=["POST"])
    @agent_route()
    async def resolve(request: Request, hid: str) -> response.HTTPResponse:
        return await finish(request, hid, RESOLVED)

    @bp.route("/api/handoffs/<hid>/return", methods=["POST"])
    @agent_route()
    async def hand_back(request: Request, hid: str) -> response.HTTPResponse:
        return await finish(request, hid, RETURNED_TO_BOT)

    @bp.route("/api/handoffs/<hid>/suggest", methods=["POST"])
    @agent_route()
    async def suggest(request: Request, hid: str) -> response.HTTPResponse:
        """'Suggest for the FAQ': the customer's question and the agent's last reply of a resolved
        hand-off go to the editors' inbox as a proposed entry."""
        store = handoffs().store
        h = store.get(hid)
        if h.state != RESOLVED:
            return error("only a resolved hand-off can be suggested for the FAQ", 409)
        replies = [m.text for m in store.messages(hid) if m.role == "agent"]
        question = h.packet.summary.first_question or h.packet.summary.last_message
        if not replies or not question:
            return error("this hand-off has no customer question and agent reply to suggest", 409)
        try:
            proposed = inbox().propose(h.conversation_id, question, replies[-1], request.ctx.agent)
        except ValueError as exc:
            return error(str(exc), 409)
        return ok({"proposed": proposed})

    @bp.route("/api/handoffs/<hid>/abandon", methods=["POST"])
    @agent_route()
    async def abandon(request: Request, hid: str) -> response.HTTPResponse:
        return await finish(request, hid, ABANDONED)

    add_assist_routes(bp, agent_route, ROLES)  # agent assist, canned replies (bot.web.console_assist)
    console_desk.register(bp, agent_route, bridge, handoff_row)  # notes, transfer, earlier hand-offs
    return bp


@functools.lru_cache(maxsize=1)
def tickets() -> TicketReplies:
    """E-mail replies to tickets, on the hand-off service's store and settings (made on first use)."""
    service = handoffs()
    return TicketReplies(service.store, service.settings)


def _emails(h: Handoff) -> list[dict[str, Any]]:
    return tickets().emails(h.id) if h.ticket else []


def _text(request: Request) -> str | response.HTTPResponse:
    """The ``text`` of a JSON body, or the 400 / 413 that says what is wrong with it."""
    text = str((request.json or {}).get("text", "")).strip() if isinstance(request.json, dict) else ""
    if not text:
        return error("send a JSON body with a non-empty text", 400)
    if len(text) > MAX_MESSAGE_CHARS:
        return error(f"a message can have at most {MAX_MESSAGE_CHARS} characters", 413)
    return text


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()} for r in rows]


def _messages(service: HandoffService, hid: str, after: int) -> list[dict[str, Any]]:
    return [dict(message_row(m, shown_text(service, m)))
            for m in service.store.messages(hid, after, notes=True)]  # staff's notes, marked by role
