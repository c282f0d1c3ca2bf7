"""The agent console, served by the Rasa server at ``/console`` (listed in ``credentials.yml``).

A static page plus a JSON API. Login sets an HttpOnly, SameSite=Strict session cookie; every
state-changing call must echo the session's CSRF token in ``X-CSRF-Token``; failed logins are
rate-limited per name and address. The page renders everything customers typed as text.
"""

from __future__ import annotations

import functools
import hmac
import logging
from datetime import timedelta
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed
from sanic import Blueprint, response
from sanic.request import Request

from bot.channel.socket import FeedOutput, deliver
from bot.channel.web import asset
from bot.handoff import messages as say
from bot.handoff.auth import LoginLimiter, verify_password
from bot.handoff.redact import install_log_redaction
from bot.handoff.service import HandoffService
from bot.handoff.states import (
    ABANDONED,
    ACTIVE,
    ASSIGNED,
    RESOLVED,
    RETURNED_TO_BOT,
    HandoffError,
    HandoffNotFound,
    InvalidTransition,
)
from bot.handoff.store import Handoff, utcnow
from bot.handoff.webhooks import WebhookSender
from bot.runtime import handoffs

log = logging.getLogger(__name__)
COOKIE = "supportbot_session"
MAX_MESSAGE_CHARS = 4000
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {"console.js", "console.css"}


def _error(message: str, status: int) -> response.HTTPResponse:
    return response.json({"error": message}, status=status, headers=SECURITY_HEADERS)


def _ok(body: Any) -> response.HTTPResponse:
    return response.json(body, headers=SECURITY_HEADERS)


def handoff_row(h: Handoff, service: HandoffService, position: int) -> dict[str, Any]:
    return {"id": h.id, "conversation_id": h.conversation_id, "state": h.state, "reason": h.reason,
            "agent": h.agent, "ticket": h.ticket, "channel": h.channel,
            "first_question": service.for_agent(h.first_question),
            "customer_email": service.for_agent(h.customer_email),
            "created_at": h.created_at.isoformat(), "position": position,
            "wait_seconds": round((utcnow() - h.created_at).total_seconds())}


class AgentConsole(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "console"

    def url_prefix(self) -> str:
        return "/console"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("agent_console", __name__)
        limiter = LoginLimiter()
        worker: dict[str, Any] = {}

        @bp.listener("after_server_start")
        async def start_webhooks(app: Any, loop: Any) -> None:
            install_log_redaction()  # Rasa has configured its log handlers by now
            service = handoffs()
            if service.settings.webhook_urls:
                sender = WebhookSender(service.store, service.settings.handoff_webhook_secret)
                worker["thread"], worker["stop"] = sender.start()

        @bp.listener("before_server_stop")
        async def stop_webhooks(app: Any, loop: Any) -> None:
            if "stop" in worker:
                worker["stop"].set()

        def authed(csrf: bool = True) -> Callable:
            def wrap(handler: Callable) -> Callable:
                @functools.wraps(handler)
                async def inner(request: Request, *args: Any, **kwargs: Any) -> response.HTTPResponse:
                    token = request.cookies.get(COOKIE)
                    found = handoffs().store.session(token) if token else None
                    if found is None:
                        return _error("log in first", 401)
                    agent, expected = found
                    if csrf and not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), expected):
                        return _error("missing or wrong X-CSRF-Token header; reload the console", 403)
                    request.ctx.agent, request.ctx.csrf = agent, expected
                    try:
                        return await handler(request, *args, **kwargs)
                    except HandoffNotFound as exc:
                        return _error(str(exc), 404)
                    except HandoffError as exc:
                        return _error(str(exc), 409)
                return inner
            return wrap

        @bp.route("/", methods=["GET"])
        async def page(request: Request) -> response.HTTPResponse:
            return asset("console.html", SECURITY_HEADERS)

        @bp.route("/static/<name>", methods=["GET"])
        async def static(request: Request, name: str) -> response.HTTPResponse:
            if name not in STATIC:
                return _error("not found", 404)
            return asset(name, SECURITY_HEADERS)

        @bp.route("/api/login", methods=["POST"])
        async def login(request: Request) -> response.HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            name, password = str(body.get("name", "")).strip(), str(body.get("password", ""))
            if not name or not password:
                return _error("send a JSON body with name and password", 400)
            key = f"{name.lower()}|{request.remote_addr or request.ip}"
            wait = limiter.retry_after(key)
            if wait:
                return _error(f"too many failed logins; try again in {int(wait) + 1} s", 429)
            store = handoffs().store
            if not verify_password(store.agent_hash(name), password):
                limiter.failed(key)
                log.warning("failed console login for %r from %s", name, request.ip)
                return _error("wrong name or password", 401)
            limiter.succeeded(key)
            token, csrf = store.create_session(name, timedelta(hours=handoffs().settings.agent_session_hours))
            res = _ok({"agent": name, "csrf": csrf})
            res.cookies[COOKIE] = token
            cookie = res.cookies[COOKIE]
            cookie["httponly"] = True
            cookie["samesite"] = "Strict"
            cookie["path"] = "/console"
            cookie["secure"] = request.scheme == "https"
            return res

        @bp.route("/api/logout", methods=["POST"])
        @authed()
        async def logout(request: Request) -> response.HTTPResponse:
            handoffs().store.end_session(request.cookies.get(COOKIE, ""))
            res = _ok({"ok": True})
            del res.cookies[COOKIE]
            return res

        @bp.route("/api/me", methods=["GET"])
        @authed(csrf=False)
        async def me(request: Request) -> response.HTTPResponse:
            return _ok({"agent": request.ctx.agent, "csrf": request.ctx.csrf})

        @bp.route("/api/queue", methods=["GET"])
        @authed(csrf=False)
        async def queue(request: Request) -> response.HTTPResponse:
            service = handoffs()
            rows, position = [], 0
            for h in service.store.list_handoffs(ACTIVE):
                position += h.state == "queued"
                rows.append(handoff_row(h, service, position if h.state == "queued" else 0))
            return _ok({"handoffs": rows, "agents_online": service.agents_online()})

        @bp.route("/api/handoffs/<hid>", methods=["GET"])
        @authed(csrf=False)
        async def detail(request: Request, hid: str) -> response.HTTPResponse:
            service = handoffs()
            h = service.store.get(hid)
            packet = h.packet.dict()
            for line in packet["transcript"]:
                line["text"] = service.for_agent(line["text"])
            for key in ("first_question", "last_message"):
                packet["summary"][key] = service.for_agent(packet["summary"][key])
            packet["customer"]["email"] = service.for_agent(packet["customer"]["email"])
            return _ok({"handoff": handoff_row(h, service, service.store.queue_position(hid)),
                        "summary": packet["summary"], "customer": packet["customer"],
                        "transcript": _jsonable(packet["transcript"]), "messages": _messages(service, hid, 0),
                        "history": _jsonable(service.store.history(hid))})

        @bp.route("/api/handoffs/<hid>/messages", methods=["GET"])
        @authed(csrf=False)
        async def new_messages(request: Request, hid: str) -> response.HTTPResponse:
            service = handoffs()
            h = service.store.get(hid)
            after = int(request.args.get("after", "0") or 0)
            return _ok({"state": h.state, "agent": h.agent, "messages": _messages(service, hid, after)})

        @bp.route("/api/handoffs/<hid>/claim", methods=["POST"])
        @authed()
        async def claim(request: Request, hid: str) -> response.HTTPResponse:
            service, agent = handoffs(), request.ctx.agent
            h = service.claim(hid, agent)
            await _tell_customer(request, h, say.joined(agent), {"state": ASSIGNED, "agent": agent},
                                 pause=True)
            return _ok({"handoff": handoff_row(h, service, 0)})

        @bp.route("/api/handoffs/<hid>/messages", methods=["POST"])
        @authed()
        async def send(request: Request, hid: str) -> response.HTTPResponse:
            service, agent = handoffs(), request.ctx.agent
            text = str((request.json or {}).get("text", "")).strip() if isinstance(request.json, dict) else ""
            if not text:
                return _error("send a JSON body with a non-empty text", 400)
            if len(text) > MAX_MESSAGE_CHARS:
                return _error(f"a message can have at most {MAX_MESSAGE_CHARS} characters", 413)
            h = service.store.get(hid)
            if h.state != ASSIGNED or h.agent != agent:
                raise InvalidTransition(hid, h.state, "messaged by you", h.agent)
            message = service.store.add_message(hid, "agent", text, author=agent)
            await _tell_customer(request, h, text, {"from": "agent", "agent": agent}, agent=agent)
            return _ok({"id": message.id})

        async def finish(request: Request, hid: str, outcome: str) -> response.HTTPResponse:
            service, agent = handoffs(), request.ctx.agent
            current = service.store.get(hid)
            if current.state == ASSIGNED and current.agent != agent:
                raise InvalidTransition(hid, current.state, "finished by you", current.agent)
            h = service.finish(hid, agent, outcome)
            if outcome == ABANDONED:  # the customer has gone: unpause quietly in case they return
                await _resume(request, h, None)
            else:
                await _resume(request, h, say.left(agent, outcome == RESOLVED))
            return _ok({"handoff": handoff_row(h, service, 0)})

        @bp.route("/api/handoffs/<hid>/resolve", methods=["POST"])
        @authed()
        async def resolve(request: Request, hid: str) -> response.HTTPResponse:
            return await finish(request, hid, RESOLVED)

        @bp.route("/api/handoffs/<hid>/return", methods=["POST"])
        @authed()
        async def hand_back(request: Request, hid: str) -> response.HTTPResponse:
            return await finish(request, hid, RETURNED_TO_BOT)

        @bp.route("/api/handoffs/<hid>/abandon", methods=["POST"])
        @authed()
        async def abandon(request: Request, hid: str) -> response.HTTPResponse:
            return await finish(request, hid, ABANDONED)

        return bp


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()} for r in rows]


def _messages(service: HandoffService, hid: str, after: int) -> list[dict[str, Any]]:
    return [{"id": m.id, "role": m.role, "author": m.author, "at": m.at.isoformat(),
             "text": m.text if m.role == "agent" else service.for_agent(m.text)}
            for m in service.store.messages(hid, after)]


async def _tell_customer(request: Request, h: Handoff, text: str, custom: dict[str, Any],
                         agent: str | None = None, pause: bool = False) -> None:
    """Put a message in the customer's feed and in the Rasa tracker (so the transcript has it)."""
    rasa_agent = request.app.ctx.agent
    await deliver(h.conversation_id, {"recipient_id": h.conversation_id, "text": text, "custom": custom})
    async with rasa_agent.lock_store.lock(h.conversation_id):
        tracker = await rasa_agent.processor.get_tracker(h.conversation_id)
        if pause and not tracker.is_paused():
            tracker.update(ConversationPaused())
        tracker.update(BotUttered(text, metadata={"agent": agent} if agent else {"handoff": custom}))
        await rasa_agent.processor.save_tracker(tracker)


async def _resume(request: Request, h: Handoff, text: str | None) -> None:
    """The person is done: tell the customer, resume the bot, and let it follow up (with a text)."""
    rasa_agent = request.app.ctx.agent
    if text:
        await deliver(h.conversation_id, {"recipient_id": h.conversation_id, "text": text,
                                          "custom": {"state": h.state, "agent": h.agent}})
    async with rasa_agent.lock_store.lock(h.conversation_id):
        tracker = await rasa_agent.processor.get_tracker(h.conversation_id)
        if text:
            tracker.update(BotUttered(text, metadata={"handoff": {"state": h.state}}))
        tracker.update(ConversationResumed())
        # The pause cut the turn short of its action_listen; rules expect one before a user intent.
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        if text:
            await rasa_agent.trigger_intent("handoff_finished", [], FeedOutput(), tracker)
        else:
            await rasa_agent.processor.save_tracker(tracker)
