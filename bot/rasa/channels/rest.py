"""Rasa's REST channel plus what a person sends during a hand-off.

Drop-in for ``rest:`` in ``credentials.yml`` (same URL, ``/webhooks/rest/webhook``): each reply
starts with any agent or status messages that arrived since the customer's last request, and
``GET /webhooks/rest/poll?sender=ID`` returns them without sending a message.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.rasa.prefetch import prefetch
from bot.runtime import delivery


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

        @bp.route("/poll", methods=["GET"])
        async def poll(request: Request) -> response.HTTPResponse:
            sender = request.args.get("sender", "").strip()
            if not sender:
                return response.json({"error": "add ?sender=<conversation id>"}, status=400)
            return response.json(delivery().take(sender))

        return bp
