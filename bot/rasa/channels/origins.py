"""Which web pages may call the customer channels: the bot's own, and those an operator lists
(``SUPPORTBOT_ALLOWED_ORIGINS``). Staff routes answer no other origin.

Rasa would apply one CORS rule to the whole server (``--cors``), console included; instead
:func:`configure_cors` (installed by ``bot.rasa.launcher`` in place of Rasa's) lets sanic-cors answer
for the REST channel only, and the socket.io channel checks the same list (:func:`origin_allowed`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.runtime import settings

CUSTOMER_PATHS = r"/webhooks/rest/.*"


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """No ``Origin`` (not a browser), the page's own host, a listed origin, or ``*`` listed."""
    if not origin:
        return True
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return bool(host) and urlsplit(origin).netloc.lower() == str(host).lower()


def socketio_origin_check(origin: str | None, environ: dict[str, Any]) -> bool:
    """For python-engineio's ``cors_allowed_origins`` (called with each connection's WSGI environ)."""
    return origin_allowed(origin, environ.get("HTTP_HOST"), settings().origin_list)


def configure_cors(app: Any, cors_origins: Any = None) -> None:
    """Replaces ``rasa.server.configure_cors``: CORS for the customer REST routes only, whatever
    ``--cors`` says; every other route (the console) sends no CORS header at all."""
    from sanic_cors import CORS

    allowed = settings().origin_list
    app.config.CORS_AUTOMATIC_OPTIONS = True
    app.config.CORS_SUPPORTS_CREDENTIALS = False  # customers authenticate with a token header, not cookies
    CORS(app, resources={CUSTOMER_PATHS: {"origins": "*" if "*" in allowed else allowed}},
         automatic_options=True, allow_headers=["Content-Type", "Authorization"])
