"""The console's desk views (issue 19): internal notes, transfer to another agent with a note, the
customer's earlier hand-offs. Registered on the console's blueprint by ``bot.web.console``; the rules
live in ``bot.handoff.desk``."""

from __future__ import annotations

from typing import Any, Callable

from sanic import Blueprint, response
from sanic.request import Request

from bot import wire
from bot.handoff import messages as say
from bot.handoff.desk import MAX_NOTE_CHARS, BadInput, Desk, NotAllowed, clean_text
from bot.handoff.states import ASSIGNED
from bot.runtime import agent_events, handoffs
from bot.staff.auth import error, ok
from bot.web.live_events import handoff_event, message_event, message_row


def _body(request: Request) -> dict[str, Any]:
    return request.json if isinstance(request.json, dict) else {}


def register(bp: Blueprint, route: Callable[..., Callable], bridge: Callable[[Request], Any],
             row: Callable[..., dict[str, Any]]) -> None:
    """``route``: the console's agent_route; ``row``: its hand-off row for the JSON answers."""

    def desk() -> Desk:
        return Desk(handoffs())

    def refused(exc: Exception) -> response.HTTPResponse:
        if isinstance(exc, BadInput):
            return error(f"{exc.field}: {exc}", 413 if "at most" in str(exc) else 400)
        return error(str(exc), 403)

    @bp.route("/api/handoffs/<hid>/notes", methods=["POST"])
    @route()
    async def add_note(request: Request, hid: str) -> response.HTTPResponse:
        """An internal note: stored with the hand-off, shown to staff only, never delivered."""
        try:
            text = clean_text(_body(request).get("text"), "text", MAX_NOTE_CHARS)
        except BadInput as exc:
            return refused(exc)
        m = desk().note(hid, request.ctx.agent, text)
        # other agents' consoles show it at once (the staff room: never the customer)
        conversation = handoffs().store.get(hid).conversation_id
        await agent_events().emit("message", message_event(hid, conversation, message_row(m, m.text)))
        return ok({"id": m.id, "role": m.role, "author": m.author, "at": m.at.isoformat(), "text": m.text})

    @bp.route("/api/agents", methods=["GET"])
    @route(csrf=False)
    async def agents(request: Request) -> response.HTTPResponse:
        """Who a hand-off can be transferred to: agents and admins, online ones first."""
        return ok({"agents": desk().candidates(request.ctx.agent)})

    @bp.route("/api/handoffs/<hid>/transfer", methods=["POST"])
    @route()
    async def transfer(request: Request, hid: str) -> response.HTTPResponse:
        body = _body(request)
        try:
            to = clean_text(body.get("to"), "to", 64)
            note = clean_text(body.get("note"), "note", MAX_NOTE_CHARS, required=False)
            h = desk().transfer(hid, request.ctx.agent, request.ctx.staff.role, to, note)
        except (BadInput, NotAllowed) as exc:
            return refused(exc)
        await bridge(request).tell(wire.state_change(h.conversation_id, say.joined(to), ASSIGNED, to))
        await agent_events().emit("handoff", dict(handoff_event("transferred", row(h, handoffs(), 0))))
        return ok({"handoff": row(h, handoffs(), 0)})

    @bp.route("/api/handoffs/<hid>/earlier", methods=["GET"])
    @route(csrf=False)
    async def earlier(request: Request, hid: str) -> response.HTTPResponse:
        """The customer's earlier hand-offs (opened read-only in the conversation view)."""
        service = handoffs()
        found = desk().earlier(service.store.get(hid))
        return ok({"earlier": [{"id": e.handoff.id, "state": e.handoff.state, "reason": e.handoff.reason,
                                "created_at": e.handoff.created_at.isoformat(), "rating": e.handoff.rating,
                                "agent": e.handoff.agent, "ticket": e.handoff.ticket,
                                "first_question": service.for_agent(e.handoff.first_question),
                                "match": e.match, "verified": e.verified} for e in found]})
