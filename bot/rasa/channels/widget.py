"""Static files served by the Rasa server: the chat widget (``/widget/widget.js``), the Markdown
renderer it shares with the editor (``/widget/markdown.js``), its vendored libraries, and a demo shop
page using it (``/widget/demo``). Listed in ``credentials.yml``."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request

from bot.web.assets import asset

WIDGET_FILES = {"widget.js", "markdown.js", "widget.css", "demo.css"}
VENDOR_FILES = {"socket.io.min.js", "marked.umd.js", "purify.min.js"}


class WebAssets(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "widget"

    def url_prefix(self) -> str:
        return "/widget"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("widget_assets", __name__)
        # the widget is embedded on other sites: let them load it, and cache it briefly
        shared = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300",
                  "X-Content-Type-Options": "nosniff"}

        @bp.route("/<name>", methods=["GET"])
        async def widget_file(request: Request, name: str) -> response.HTTPResponse:
            if name == "demo":
                return asset("demo.html", {"Content-Security-Policy": "default-src 'self'; object-src 'none'"})
            if name not in WIDGET_FILES:
                return response.json({"error": "not found"}, status=404)
            return asset(name, shared)

        @bp.route("/vendor/<name>", methods=["GET"])
        async def vendor_file(request: Request, name: str) -> response.HTTPResponse:
            if name not in VENDOR_FILES:
                return response.json({"error": "not found"}, status=404)
            return asset("vendor/" + name, shared)

        return bp
