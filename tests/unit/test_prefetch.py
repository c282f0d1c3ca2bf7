"""The channels' prefetch must reach the action server before Rasa's NLU, which never yields."""

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.rasa.prefetch import SEND_WAIT_S, Prefetcher
from bot.rasa.routing import CONVERSATION_HEADER, _keyed, conversation_key


@pytest.fixture
def receiver():
    got: list[tuple[float, str, str | None]] = []  # when, the text, the conversation's key

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((time.perf_counter(), json.loads(body)["text"], self.headers.get(CONVERSATION_HEADER)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prefetch", got
    server.shutdown()


def test_the_message_is_on_the_wire_before_the_turn_goes_on(receiver, monkeypatch):
    """It returns as soon as the request is written, not after the longest wait it allows
    (raised here so that a busy test machine cannot make it give up first)."""
    url, got = receiver
    monkeypatch.setattr("bot.rasa.prefetch.SEND_WAIT_S", 3.0)

    async def turn(prefetch, text):
        started = time.perf_counter()
        await prefetch(text)
        returned = time.perf_counter()
        assert returned - started < 1.0
        time.sleep(0.3)  # Rasa's NLU and policies: synchronous, the event loop does not run
        return returned

    async def run():
        prefetch = Prefetcher(url)
        first = await turn(prefetch, "where is my parcel")
        second = await turn(prefetch, "and my refund")  # a kept connection, same guarantee
        await turn(prefetch, "/choose_faq")  # a button: nothing to encode
        await asyncio.sleep(0.2)
        await prefetch.close()
        return first, second

    first, second = asyncio.run(run())
    assert [text for _, text, _ in got] == ["where is my parcel", "and my refund"]
    assert got[0][0] < first + 0.25 and got[1][0] < second + 0.25


def test_an_unreachable_action_server_never_holds_the_turn_up():
    async def run():
        prefetch = Prefetcher("http://127.0.0.1:9/prefetch")
        started = time.perf_counter()
        await prefetch("where is my parcel")
        took = time.perf_counter() - started
        await asyncio.sleep(0.1)
        await prefetch.close()
        return took

    assert asyncio.run(run()) < SEND_WAIT_S + 0.05


def test_a_conversations_prefetch_and_action_calls_carry_one_key_for_the_load_balancer(receiver):
    url, got = receiver

    async def run():
        prefetch = Prefetcher(url)
        await prefetch("where is my parcel", "conversation-1")
        await prefetch("and my refund")  # no conversation: no key
        await asyncio.sleep(0.3)
        await prefetch.close()

    asyncio.run(run())
    assert sorted((text, key) for _, text, key in got) == [
        ("and my refund", None), ("where is my parcel", conversation_key("conversation-1"))]
    assert conversation_key("conversation-1") != conversation_key("conversation-2")
    assert "conversation-1" not in conversation_key("conversation-1")  # the id never reaches the logs

    sent = []

    async def request(self, method="post", subpath=None, **kwargs):  # EndpointConfig.request's shape
        sent.append(kwargs.get("headers"))

    keyed = _keyed(request)
    action_call = {"next_action": "action_faq", "sender_id": "conversation-1", "tracker": {}}
    asyncio.run(keyed(None, json=action_call, method="post"))
    asyncio.run(keyed(None, json={"text": "not an action call"}, method="post"))
    asyncio.run(keyed(None, method="get", subpath="/health"))
    assert sent == [{CONVERSATION_HEADER: conversation_key("conversation-1")}, None, None]
