"""Static files of the pages and the widget, from ``bot/web/static``, with their content type."""

from __future__ import annotations

from importlib import resources

from sanic import response

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8"}


def asset(path: str, headers: dict[str, str] | None = None) -> response.HTTPResponse:
    """A file under ``bot/web/static``, with its content type."""
    body = resources.files("bot.web").joinpath(f"static/{path}").read_bytes()
    content_type = TYPES[path[path.rindex("."):]]
    return response.raw(body, content_type=content_type, headers=headers)
