"""Rasa's REST channel plus what a person sends during a hand-off, for server-issued conversations.

Drop-in for ``rest:`` in ``credentials.yml`` (same URL, ``/webhooks/rest/webhook``):

- ``POST /webhooks/rest/conversations`` issues a conversation: ``201 {"sender": ID, "token": T}``;
- ``POST /webhooks/rest/webhook {"sender": ID, "message": ...}`` with ``Authorization: Bearer T``
  (each reply starts with any agent or status messages that arrived since the last request);
- ``GET /webhooks/rest/poll?sender=ID`` with the same header returns those without a message.

A message is a JSON object with a non-empty string ``sender`` (at most 255 characters, the tracker
store's limit) and a string ``message``; anything else is a 400 naming the field, before Rasa sees
it. A missing or wrong token is a 401/403 (``field: token``): knowing a conversation's id is not
enough to read or write it. A message over ``SUPPORTBOT_MAX_MESSAGE_CHARS`` is a 413, one over the
conversation's rate a 429 with ``Retry-After`` (``bot.access.limits``), also before NLU.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.access.conversations import AccessDenied, bearer, check, new_conversation
from bot.rasa.prefetch import prefetch
from bot.runtime import delivery, message_limits, settings
from bot.wire import message_problem


def refused(field: str, message: str, status: int = 400) -> response.HTTPResponse:
    return response.json({"error": message, "field": field}, status=status)


def unauthorized(request: Request, sender: str) -> response.HTTPResponse | None:
    """A 401/403 unless the request carries ``sender``'s token (``Authorization: Bearer``)."""
    try:
        check(settings(), sender, bearer(request.headers.get("Authorization")))
    except AccessDenied as exc:
        return refused(exc.field, str(exc), exc.status)
    return None


def _body(request: Request) -> Any:
    try:
        return request.json
    except Exception:  # noqa: BLE001 - Sanic raises its own error for invalid JSON
        return None


class SupportRest(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def with_feed(message: UserMessage) -> None:
            await prefetch(message.text)
            if isinstance(message.output_channel, CollectingOutputChannel):
                message.output_channel.messages.extend(delivery().take(message.sender_id))
            await on_new_message(message)

        bp = super().blueprint(with_feed)

        @bp.middleware("request")
        async def validate(request: Request) -> response.HTTPResponse | None:
            # by route, not by path: Sanic routes ".../webhook/" here too (strict_slashes is off)
            if request.method != "POST" or request.route is None or not request.route.path.endswith("/webhook"):
                return None
            body = _body(request)
            problem = message_problem(body)
            if problem is not None:
                return refused(*problem)
            denied = unauthorized(request, body["sender"])
            if denied is not None:
                return denied
            limit = message_limits().refusal(body["sender"], body["message"], body.get("metadata"))
            if limit is not None:
                res = refused(limit.field, limit.message, limit.status)
                if limit.retry_after:
                    res.headers["Retry-After"] = str(limit.retry_after)
                return res
            return None

        @bp.route("/conversations", methods=["POST"])
        async def conversations(request: Request) -> response.HTTPResponse:
            issued = new_conversation(settings())
            return response.json({"sender": issued.sender, "token": issued.token}, status=201)

        @bp.route("/poll", methods=["GET"])
        async def poll(request: Request) -> response.HTTPResponse:
            sender = request.args.get("sender", "").strip()
            if not sender:
                return refused("sender", "add ?sender=<conversation id>")
            return unauthorized(request, sender) or response.json(delivery().take(sender))

        return bp
