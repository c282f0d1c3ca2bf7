"""The conversation lock of several nodes (bot/cluster/lock.py) against a real Redis server."""

import asyncio
import time

import pytest
from redis.exceptions import LockNotOwnedError

from bot.cluster import async_client
from bot.cluster.lock import PREFIX, ConversationLocks, LockLost, LockTimeout


def run(coro):
    return asyncio.run(coro)


def test_two_contenders_never_hold_one_conversation_at_once(redis_url):
    async def main():
        # two "nodes": separate clients, as two processes would have
        a, b = ConversationLocks(async_client(redis_url)), ConversationLocks(async_client(redis_url))
        inside, overlaps, order = 0, 0, []

        async def turn(locks, name):
            nonlocal inside, overlaps
            async with locks.hold("conv-1"):
                inside += 1
                overlaps += inside > 1
                order.append(name)
                await asyncio.sleep(0.02)  # a turn's await points, where the other would get in
                inside -= 1

        await asyncio.gather(*(turn(a if i % 2 else b, i) for i in range(20)))
        return overlaps, order

    overlaps, order = run(main())
    assert overlaps == 0
    assert sorted(order) == list(range(20))  # every turn ran


def test_other_conversations_are_not_held_up(redis_url):
    async def main():
        locks = ConversationLocks(async_client(redis_url))
        async with locks.hold("busy"):
            started = time.monotonic()
            async with locks.hold("free", wait=1):
                return time.monotonic() - started

    assert run(main()) < 0.2


def test_a_contender_gives_up_after_its_wait(redis_url):
    async def main():
        a, b = ConversationLocks(async_client(redis_url)), ConversationLocks(async_client(redis_url))
        async with a.hold("conv-2"):
            with pytest.raises(LockTimeout):
                async with b.hold("conv-2", wait=0.2):
                    pass

    run(main())


def test_an_expired_holder_cannot_release_the_next_holders_lock(redis_url):
    async def main():
        client = async_client(redis_url)
        stale = ConversationLocks(client, lifetime=0.3)
        stale._renew = _never_renew  # a process stalled past its lock's lifetime
        fresh = ConversationLocks(client, lifetime=5)
        with pytest.raises(LockLost):
            async with stale.hold("conv-3"):
                await asyncio.sleep(0.5)  # expired: the next holder gets in
                async with fresh.hold("conv-3", wait=0.5):
                    pass
                lock = fresh._lock("conv-3", 0.1)
                assert await lock.acquire()
                await asyncio.sleep(0)
        # the fenced-out holder's release left the new holder's lock in place
        assert await client.get(PREFIX + "conv-3") is not None
        await lock.release()

    run(main())


def test_a_lost_lock_does_not_hide_the_turns_own_error(redis_url, caplog):
    async def main():
        client = async_client(redis_url)
        locks = ConversationLocks(client)
        with pytest.raises(ValueError, match="the turn failed"):
            async with locks.hold("conv-7"):
                await client.delete(PREFIX + "conv-7")  # lost while held
                raise ValueError("the turn failed")
        assert any("'conv-7'" in r.getMessage() for r in caplog.records)  # and the loss is logged

    run(main())


def test_release_by_a_non_owner_is_refused(redis_url):
    async def main():
        client = async_client(redis_url)
        locks = ConversationLocks(client)
        async with locks.hold("conv-4"):
            intruder = locks._lock("conv-4", 0)
            intruder.local.token = b"not-the-owners-token"
            with pytest.raises(LockNotOwnedError):
                await intruder.release()
            assert await client.get(PREFIX + "conv-4") is not None  # still held
        assert await client.get(PREFIX + "conv-4") is None  # released by its owner

    run(main())


def test_a_long_turn_keeps_its_lock_by_renewing_it(redis_url):
    async def main():
        client = async_client(redis_url)
        a, b = ConversationLocks(client, lifetime=0.3), ConversationLocks(async_client(redis_url), lifetime=0.3)
        async with a.hold("conv-5"):
            await asyncio.sleep(0.8)  # well past the lifetime
            with pytest.raises(LockTimeout):
                async with b.hold("conv-5", wait=0.1):
                    pass

    run(main())


async def _never_renew(lock, lost):
    await asyncio.sleep(3600)


def test_rasa_lock_store_uses_the_redis_lock_when_configured(redis_url):
    from bot.rasa.lock_store import SupportLockStore

    async def main():
        a, b = SupportLockStore(redis_url=redis_url), SupportLockStore(redis_url=redis_url)
        inside, overlaps = 0, 0

        async def turn(store):
            nonlocal inside, overlaps
            async with store.lock("conv-6"):  # as Rasa's processor calls it
                inside += 1
                overlaps += inside > 1
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(turn(a if i % 2 else b) for i in range(10)))
        return overlaps

    assert run(main()) == 0
    one_node = SupportLockStore(redis_url="")
    assert one_node._locks is None  # no Redis: Rasa's in-memory ticket lock

    async def in_memory():
        async with one_node.lock("c"):
            return one_node._locks

    assert run(in_memory()) is None
