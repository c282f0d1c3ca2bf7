"""Static files of the pages and the widget, from ``bot/web/static``, with their content type.
A page's ``<!--#include NAME.html-->`` is replaced by that file (the staff pages' one login form)."""

from __future__ import annotations

import re
from importlib import resources
from typing import Iterable

from sanic import Blueprint, response
from sanic.request import Request

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8"}
INCLUDE = re.compile(rb"<!--#include ([a-z_]+\.html)-->")


def _read(path: str) -> bytes:
    return resources.files("bot.web").joinpath(f"static/{path}").read_bytes()


def page(path: str) -> bytes:
    """An HTML file under ``bot/web/static`` with its includes put in (one level)."""
    return INCLUDE.sub(lambda m: _read(m.group(1).decode()), _read(path))


def asset(path: str, headers: dict[str, str] | None = None) -> response.HTTPResponse:
    """A file under ``bot/web/static``, with its content type."""
    body = page(path) if path.endswith(".html") else _read(path)
    content_type = TYPES[path[path.rindex("."):]]
    return response.raw(body, content_type=content_type, headers=headers)


def page_routes(bp: Blueprint, page: str, files: Iterable[str], headers: dict[str, str],
                vendor: Iterable[str] = ()) -> None:
    """A staff page's ``/`` (its HTML), ``/static/<name>`` and ``/static/vendor/<name>``: only the
    files named, with ``headers``; anything else is a JSON 404."""
    allowed, libraries = set(files), set(vendor)

    def not_found() -> response.HTTPResponse:
        return response.json({"error": "not found"}, status=404, headers=headers)

    @bp.route("/", methods=["GET"])
    async def index(request: Request) -> response.HTTPResponse:
        return asset(page, headers)

    @bp.route("/static/<name>", methods=["GET"])
    async def static(request: Request, name: str) -> response.HTTPResponse:
        return asset(name, headers) if name in allowed else not_found()

    if libraries:
        @bp.route("/static/vendor/<name>", methods=["GET"])
        async def vendored(request: Request, name: str) -> response.HTTPResponse:
            return asset("vendor/" + name, headers) if name in libraries else not_found()
