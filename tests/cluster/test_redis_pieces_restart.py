"""The Redis-backed pieces of several nodes across a Redis restart, against a real redis-server
(no Rasa): the conversation lock fails open to the node's own lock and returns to Redis, presence
registers its sockets again and hands over what was kept, socket.io rooms subscribe again."""

import asyncio
import logging
import time

import pytest
import redis

from bot.cluster import async_client
from bot.cluster.lock import PREFIX
from bot.cluster.presence import ROOM, Presence
from bot.cluster.rooms import SharedRooms
from bot.rasa import lock_store
from bot.rasa.lock_store import SupportLockStore
from tests.redis_server import RedisServer, RedisUnavailable


@pytest.fixture
def server():
    s = RedisServer()
    try:
        s.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    yield s
    s.__exit__(None, None, None)


def test_the_lock_fails_open_to_the_nodes_own_lock_and_returns_to_redis(server, monkeypatch, caplog):
    monkeypatch.setattr(lock_store, "LOCAL_FOR_S", 0.5)
    store = SupportLockStore(redis_url=server.url)
    held = redis.Redis.from_url(server.url)

    async def turn(conversation_id, redis_up=True):
        async with store.lock(conversation_id):
            return held.get(PREFIX + conversation_id) if redis_up else "ran"

    async def main():
        assert await turn("c1") is not None  # in Redis while held
        server.stop()
        with caplog.at_level(logging.WARNING, logger="bot.rasa.lock_store"):
            assert await turn("c1", redis_up=False) == "ran"  # Redis down: under this node's own lock
            order = []

            async def one(n):  # still one turn at a time on this node
                async with store.lock("c1"):
                    order.append(("in", n))
                    await asyncio.sleep(0.05)
                    order.append(("out", n))

            await asyncio.gather(one(1), one(2))
            assert order in ([("in", 1), ("out", 1), ("in", 2), ("out", 2)],
                             [("in", 2), ("out", 2), ("in", 1), ("out", 1)])
        assert sum("locked by this node alone" in r.getMessage() for r in caplog.records) == 1
        server.start()
        await asyncio.sleep(0.6)
        assert await turn("c1") is not None  # in Redis again

    asyncio.run(main())


def test_a_turn_whose_lock_vanished_with_a_restart_is_still_answered(server, caplog):
    """Redis restarted empty while a turn held the conversation's lock: the turn has run and is
    stored, so it returns its reply (logged as an error), and the next turn locks in Redis again."""
    store = SupportLockStore(redis_url=server.url)
    held = redis.Redis.from_url(server.url)

    async def main():
        with caplog.at_level(logging.ERROR, logger="bot.rasa.lock_store"):
            async with store.lock("c3"):
                assert held.get(PREFIX + "c3") is not None
                held.flushall()  # what a restart without persistence leaves: the lock's key is gone
                reply = "answered"
            assert reply == "answered"
            async with store.lock("c4"):  # a real restart during the turn: the same
                server.stop()
                server.start()
            async with store.lock("c3"):
                assert held.get(PREFIX + "c3") is not None  # in Redis again
        lost = [r.getMessage() for r in caplog.records if "'c3'" in r.getMessage()]
        assert len(lost) == 1 and "is answered and stored" in lost[0], lost

    asyncio.run(main())


def test_presence_registers_its_sockets_again_after_a_restart_and_hands_over(server):
    handed = []

    async def on_back(conversations):
        handed.append(conversations)

    async def main():
        node = Presence(async_client(server.url), ttl=0.6, on_back=on_back)
        other = Presence(async_client(server.url), ttl=0.6)
        await node.joined("conv-b", "sid-1")
        assert await other.reachable("conv-b")
        server.stop()
        assert not await other.reachable("conv-b")  # Redis down: counted as away (kept in the feed)
        await node.joined("conv-c", "sid-2")  # a socket that connects during the outage
        await asyncio.sleep(0.3)
        server.start()  # empty
        deadline = time.monotonic() + 3
        while not handed and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert handed == [["conv-b", "conv-c"]]
        assert await other.reachable("conv-b") and await other.reachable("conv-c")
        assert await redis.asyncio.Redis.from_url(server.url).hgetall(ROOM + "conv-c") == {
            b"sid-2": node.node.encode()}
        await node.stop()

    asyncio.run(main())


class _Server:  # what the manager needs of a socket.io server to start listening
    def start_background_task(self, target, *args):
        return asyncio.ensure_future(target(*args))

    logger = logging.getLogger("test-rooms")


def test_rooms_subscribe_again_within_seconds_of_redis_coming_back(server):
    async def main():
        rooms = SharedRooms(server.url, "test-rooms", retry=0.2)
        received = []

        async def listen():
            async for message in rooms._listen():
                received.append(message)

        task = asyncio.ensure_future(listen())
        deadline = time.monotonic() + 3
        while not rooms.listening and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert rooms.listening
        server.stop()
        await asyncio.sleep(3.5)  # long enough for the library's own doubling retry to wait 4 s next
        assert not rooms.listening
        server.start()
        started = time.monotonic()
        while not rooms.listening and time.monotonic() - started < 5:
            await asyncio.sleep(0.05)
        back_in = time.monotonic() - started
        assert rooms.listening and back_in < 1.0, back_in
        await redis.asyncio.Redis.from_url(server.url).publish("test-rooms", "hello")
        await asyncio.sleep(0.2)
        assert received == [b"hello"]
        task.cancel()

    asyncio.run(main())
