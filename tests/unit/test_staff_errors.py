"""Staff APIs answer a database that does not answer (PostgreSQL restarting) with a JSON 503 and
Retry-After, and an unparsable body with a JSON 400: never a bare 500 or Sanic's HTML page."""

import asyncio
import json

import sqlalchemy as sa
from sanic import Blueprint, Sanic

from bot.staff.auth import add_error_handlers
from bot.web import analytics, canned, console


def asgi_get(app, path):
    """One request through Sanic's own routing and exception handling (its ASGI entry point)."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def run():
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"test")], "server": ("test", 80),
                 "client": ("127.0.0.1", 1)}
        await app._startup()
        await app(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


def test_a_database_that_does_not_answer_is_a_503_to_try_again():
    bp = Blueprint("staff_api")
    add_error_handlers(bp)

    @bp.route("/queue")
    async def queue(request):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    app = Sanic("staff_errors_test")
    app.blueprint(bp)
    status, headers, body = asgi_get(app, "/queue")
    assert status == 503
    assert headers["retry-after"] == "5" and headers["cache-control"] == "no-store"
    assert json.loads(body)["error"].startswith("the database is unreachable")
    assert b"connection refused" not in body  # the driver's words stay in the log


def test_every_staff_blueprint_has_the_handlers():
    blueprints = [console.blueprint(lambda request: None),
                  analytics.blueprint(lambda: None, lambda: None, "UTC", session_hours=lambda: 8,
                                      trusted_proxies=lambda: []),
                  canned.editor_blueprint(lambda: None, lambda: None)]
    for bp in blueprints:
        handled = {e for future in bp._future_exceptions for e in future.exceptions}
        assert sa.exc.OperationalError in handled, bp.name
