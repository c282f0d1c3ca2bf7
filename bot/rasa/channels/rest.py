"""Rasa's REST channel plus what a person sends during a hand-off, for server-issued conversations.

Drop-in for ``rest:`` in ``credentials.yml`` (same URL, ``/webhooks/rest/webhook``):

- ``POST /webhooks/rest/conversations`` issues a conversation: ``201 {"sender": ID, "token": T}``;
- ``POST /webhooks/rest/webhook {"sender": ID, "message": ...}`` with ``Authorization: Bearer T``
  (each reply starts with any agent or status messages that arrived since the last request);
- ``GET /webhooks/rest/poll?sender=ID`` with the same header returns those without a message;
- ``POST /webhooks/rest/feedback {"sender": ID, "faq_id": ENTRY, "helpful": true|false}`` with the
  same header votes on an answer: the last paragraph of an FAQ answer carries ``faq: {"id": ENTRY}``
  (``bot.inbox.votes`` checks it as socket.io's ``feedback`` event: 404 when that entry did not
  answer in the conversation, a vote counts against the conversation's message rate).

A message is a JSON object with a non-empty string ``sender`` (at most 255 characters, the tracker
store's limit) and a string ``message``; anything else is a 400 naming the field, before Rasa sees
it. A missing or wrong token is a 401/403 (``field: token``): knowing a conversation's id is not
enough to read or write it. A message over ``SUPPORTBOT_MAX_MESSAGE_CHARS`` is a 413, one over the
conversation's rate a 429 with ``Retry-After`` (``bot.access.limits``), also before NLU.
A turn that fails (the tracker store's database is down, say) is a 503 with ``Retry-After`` saying to
send the message again, where Rasa's own channel answers 200 with no messages, as if the bot had
nothing to say; what was kept for the customer and taken for that reply is kept again.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.access.conversations import AccessDenied, bearer, check, new_conversation
from bot.inbox.votes import VoteRefused, cast, parse_vote
from bot.rasa.channels.stored import stored_events
from bot.rasa.prefetch import prefetch
from bot.runtime import delivery, inbox, message_limits, settings
from bot.wire import message_problem, text_paragraphs

TURN_FAILED = ("your message could not be taken just now (the service is briefly unavailable): "
               "send it again in a few seconds")
_failures: ContextVar[list[str] | None] = ContextVar("rest_turn_failures", default=None)


def refused(field: str, message: str, status: int = 400, retry_after: int = 0) -> response.HTTPResponse:
    res = response.json({"error": message, "field": field}, status=status)
    if retry_after:
        res.headers["Retry-After"] = str(retry_after)
    return res


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


class AnswerCollector(CollectingOutputChannel):
    """Rasa's collector for one REST request (or its stream), with each FAQ answer's entry on its
    last paragraph (``bot.wire.text_paragraphs``), as socket.io sends it, so a client can vote."""

    def __init__(self, inner: CollectingOutputChannel):
        self.inner, self.messages = inner, inner.messages

    @classmethod
    def name(cls) -> str:
        return CollectingOutputChannel.name()

    async def _persist_message(self, message: dict[str, Any]) -> None:
        await self.inner._persist_message(message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for message in text_paragraphs(text, kwargs):
            await self._persist_message({"recipient_id": recipient_id, **message})


class SupportRest(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def with_feed(message: UserMessage) -> None:
            taken: list[dict[str, Any]] = []
            try:
                await prefetch(message.text, message.sender_id)
                if isinstance(message.output_channel, CollectingOutputChannel):
                    taken = delivery().take(message.sender_id)
                    message.output_channel.messages.extend(taken)
                    message.output_channel = AnswerCollector(message.output_channel)
                await on_new_message(message)
            except Exception as exc:  # Rasa's channel logs it and answers 200 []: see ``failed_turn``
                failures = _failures.get()
                if failures is not None:
                    failures.append(type(exc).__name__)
                for item in taken:
                    delivery().feed.feed_push(message.sender_id, item)
                raise

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
                return refused(limit.field, limit.message, limit.status, limit.retry_after)
            request.ctx.failures = []
            _failures.set(request.ctx.failures)  # the handler runs in this same task and context
            return None

        @bp.middleware("response")
        async def failed_turn(request: Request, res: response.HTTPResponse) -> response.HTTPResponse | None:
            if getattr(request.ctx, "failures", None):
                return refused("message", TURN_FAILED, 503, retry_after=5)
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

        @bp.route("/feedback", methods=["POST"])
        async def feedback(request: Request) -> response.HTTPResponse:
            try:
                vote = parse_vote(_body(request))
            except VoteRefused as exc:
                return refused(exc.field, str(exc), exc.status)
            denied = unauthorized(request, vote.conversation_id)
            if denied is not None:
                return denied
            try:
                await cast(vote, inbox(), message_limits(), lambda sender: stored_events(request.app, sender))
            except VoteRefused as exc:
                return refused(exc.field, str(exc), exc.status, exc.retry_after)
            return response.json({"faq_id": vote.faq_id, "helpful": vote.helpful})

        return bp
