"""The console's desk views (issue 19): internal notes, transfer to another agent with a note, the
customer's earlier hand-offs and earlier sessions with the bot (``bot.conversation.sessions``).
Registered on the console's blueprint by ``bot.web.console``; the rules live in ``bot.handoff.desk``."""

from __future__ import annotations

from typing import Any, Callable

from sanic import Blueprint, response
from sanic.request import Request

from bot import wire
from bot.access.conversations import USER_PREFIX
from bot.conversation.sessions import Session, earlier_sessions
from bot.handoff import messages as say
from bot.handoff.desk import (
    MAX_NOTE_CHARS,
    SAME_CONVERSATION,
    SIGNED_IN,
    BadInput,
    Desk,
    NotAllowed,
    clean_text,
)
from bot.handoff.service import HandoffService
from bot.handoff.states import ASSIGNED
from bot.runtime import agent_events, handoffs
from bot.staff.auth import error, ok
from bot.web.live_events import handoff_event, message_event, message_row


def _body(request: Request) -> dict[str, Any]:
    return request.json if isinstance(request.json, dict) else {}


def session_row(s: Session, service: HandoffService, conversation_id: str) -> dict[str, Any]:
    return {"index": s.index, "started_at": s.started_at.isoformat(), "ended_at": s.ended_at.isoformat(),
            "customer_messages": s.customer_messages, "first_question": service.for_agent(s.first_question),
            "faq_answered": s.faq_answered, "handed_off": s.handed_off,
            "match": SIGNED_IN if conversation_id.startswith(USER_PREFIX) else SAME_CONVERSATION}


def register(bp: Blueprint, route: Callable[..., Callable], bridge: Callable[[Request], Any],
             row: Callable[..., dict[str, Any]]) -> None:
    """``route``: the console's agent_route; ``row``: its hand-off row for the JSON answers."""

    def desk() -> Desk:
        return Desk(handoffs())

    def refused(exc: Exception) -> response.HTTPResponse:
        if isinstance(exc, BadInput):
            return error(f"{exc.field}: {exc}", exc.status)
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
                                "match": e.match} for e in found]})

    async def sessions_of(request: Request, hid: str) -> tuple[str, list[Session]]:
        """The hand-off's conversation's sessions before the hand-off's own: found from the hand-off
        (HandoffNotFound -> 404), never from a conversation id the request names."""
        h = handoffs().store.get(hid)
        return h.conversation_id, earlier_sessions(await bridge(request).events(h.conversation_id),
                                                   h.created_at)

    @bp.route("/api/handoffs/<hid>/sessions", methods=["GET"])
    @route(csrf=False)
    async def sessions(request: Request, hid: str) -> response.HTTPResponse:
        """The customer's earlier conversations with the bot (Rasa sessions), newest first."""
        conversation, found = await sessions_of(request, hid)
        return ok({"sessions": [session_row(s, handoffs(), conversation) for s in found]})

    @bp.route("/api/handoffs/<hid>/sessions/<index:int>", methods=["GET"])
    @route(csrf=False)
    async def session_transcript(request: Request, hid: str, index: int) -> response.HTTPResponse:
        """One earlier session's transcript, read only, customer text masked as in the console."""
        conversation, found = await sessions_of(request, hid)
        chosen = next((s for s in found if s.index == index), None)
        if chosen is None:
            return error(f"index: hand-off {hid} has no earlier session {index}; pick one from "
                         f"/console/api/handoffs/{hid}/sessions", 404)
        service = handoffs()
        lines = [{"role": t.role.value, "text": service.for_agent(t.text), "at": t.at.isoformat(),
                  "author": t.author, "faq_id": t.faq_id, "buttons": [b.title for b in t.buttons]}
                 for t in chosen.transcript]
        return ok({"session": session_row(chosen, service, conversation), "transcript": lines})
