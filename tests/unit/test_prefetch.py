"""The channels' prefetch must reach the action server before Rasa's NLU, which never yields."""

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.rasa.prefetch import SEND_WAIT_S, Prefetcher


@pytest.fixture
def receiver():
    got: list[tuple[float, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((time.perf_counter(), json.loads(body)["text"]))
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
    assert [text for _, text in got] == ["where is my parcel", "and my refund"]
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
