"""Rasa's REST channel plus what a person sends during a hand-off.

Drop-in for ``rest:`` in ``credentials.yml`` (same URL, ``/webhooks/rest/webhook``): each reply
starts with any agent or status messages that arrived since the customer's last request, and
``GET /webhooks/rest/poll?sender=ID`` returns them without sending a message.

A message is a JSON object with a non-empty string ``sender`` (at most 255 characters, the tracker
store's limit) and a string ``message``; anything else is a 400 naming the field, before Rasa
sees it (Rasa answered a 500, or ``200 []`` for a number, and filed a missing sender as the
conversation ``default``, shared by every such client).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.rasa.prefetch import prefetch
from bot.runtime import delivery
from bot.wire import message_problem


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
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            try:
                body = request.json
            except Exception:  # noqa: BLE001 - Sanic raises its own error for invalid JSON
                body = None
            problem = message_problem(body)
            if problem is None:
                return None
            field, message = problem
            return response.json({"error": message, "field": field}, status=400)

        @bp.route("/poll", methods=["GET"])
        async def poll(request: Request) -> response.HTTPResponse:
            sender = request.args.get("sender", "").strip()
            if not sender:
                return response.json({"error": "add ?sender=<conversation id>"}, status=400)
            return response.json(delivery().take(sender))

        return bp
