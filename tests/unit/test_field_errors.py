"""What a route answers for input it cannot use: one FieldError kind (bot/errors.py) carries the
field and the status, so no route guesses the status from the message's words; and agent assist
answers 502/503, never a 500, when the action server's reply is not an assist reply."""

import asyncio
import json

import pytest
from aiohttp import web

from bot.access.conversations import AccessDenied
from bot.canned.store import CannedError, NameTaken
from bot.errors import FieldError
from bot.handoff.desk import BadInput, clean_text
from bot.inbox.votes import VoteRefused
from bot.web import console_assist
from bot.web.console_live import Refused


def test_each_field_error_says_its_field_and_status():
    with pytest.raises(BadInput) as too_long:
        clean_text("x" * 11, "note", 10)
    assert (too_long.value.field, too_long.value.status) == ("note", 413)
    # the words "at most" in a message are not what makes a 413 (the old console guessed from them)
    with pytest.raises(BadInput) as wrong_type:
        clean_text(["at most"], "note", 10)
    assert wrong_type.value.status == 400
    with pytest.raises(BadInput) as empty:
        clean_text("  ", "to", 10)
    assert (empty.value.field, empty.value.status) == ("to", 400)
    assert NameTaken("name", "taken").status == 409 and CannedError("text", "empty").status == 400
    assert Refused("role", "agents only").status == 403
    assert AccessDenied("token", "no").status == 403 and AccessDenied("token", "no", 401).status == 401
    vote = VoteRefused("rate", "slow down", 429, 30)
    assert (vote.status, vote.retry_after, vote.field) == (429, 30, "rate")
    for exc in (too_long.value, NameTaken("n", "m"), Refused("f", "m"), AccessDenied("f", "m"), vote):
        assert isinstance(exc, FieldError) and isinstance(exc, ValueError)


def answering(body: bytes, content_type: str = "application/json", delay: float = 0.0):
    async def assist(request):
        await asyncio.sleep(delay)
        return web.Response(body=body, content_type=content_type)
    app = web.Application()
    app.router.add_post("/assist", assist)
    return app


async def ask(monkeypatch, app) -> BaseException | dict:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]

    class Settings:
        action_url = f"http://127.0.0.1:{port}"
        secret_key = "k" * 40
    monkeypatch.setattr(console_assist, "settings", lambda: Settings)
    monkeypatch.setattr(console_assist, "action_server_token", lambda s: "t")
    try:
        return await console_assist.nearest_entries("where is my order")
    except Exception as exc:  # noqa: BLE001 - the test looks at which
        return exc
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("body", [b"[1, 2]", b'"entries"', b"null", b'{"entries": "not a list"}'])
def test_an_assist_reply_that_is_json_but_not_an_object_of_entries_is_a_bad_reply(monkeypatch, body):
    got = asyncio.run(ask(monkeypatch, answering(body)))
    assert isinstance(got, console_assist.BadReply), got


def test_an_assist_reply_that_is_an_object_of_entries_goes_through(monkeypatch):
    reply = {"entries": [{"id": "refunds", "score": 0.8}], "decision": "answer"}
    assert asyncio.run(ask(monkeypatch, answering(json.dumps(reply).encode()))) == reply


def test_non_json_and_slow_replies_are_the_errors_the_route_answers_503_for(monkeypatch):
    html = asyncio.run(ask(monkeypatch, answering(b"<html>proxy error</html>", "text/html")))
    monkeypatch.setattr(console_assist, "ASSIST_TIMEOUT_S", 0.2)
    slow = asyncio.run(ask(monkeypatch, answering(b"{}", delay=1.0)))
    for got in (html, slow):
        assert isinstance(got, (console_assist.aiohttp.ClientError, asyncio.TimeoutError)), got
