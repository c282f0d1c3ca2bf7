"""Mounts the agent console (``bot.web.console``) on the Rasa server at ``/console``
(listed in ``credentials.yml``), with the bridge to this server's conversations and the path of its
live updates (``bot.web.console_live``)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint

from bot.rasa.bridge import RasaBridge
from bot.web import console, console_live


class AgentConsole(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "console"

    def url_prefix(self) -> str:
        return "/console"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = console.blueprint(lambda request: RasaBridge(request.app.ctx.agent))
        console_live.add_socket_route(bp)  # the staff socket.io namespace, under the console's cookie path
        return bp
