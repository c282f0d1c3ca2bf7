"""Mounts the agent console (``bot.web.console``) on the Rasa server at ``/console``
(listed in ``credentials.yml``), with the bridge to this server's conversations."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint

from bot.rasa.bridge import RasaBridge
from bot.web import console


class AgentConsole(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "console"

    def url_prefix(self) -> str:
        return "/console"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return console.blueprint(lambda request: RasaBridge(request.app.ctx.agent))
