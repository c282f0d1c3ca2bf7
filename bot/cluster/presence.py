"""Which conversations have a live socket.io connection, on any node: so an agent's message written on
node A is pushed to the customer connected to node B (through python-socketio's Redis manager) and
kept in the stored feed only when they are connected nowhere.

One Redis hash per conversation (socket id -> node), and a key per node that lives while the node
beats (every third of ``ttl``): the sockets of a node that died without saying goodbye count as gone.
A node beats only while it can receive pushes (``ready``: its socket.io rooms are subscribed).

Redis away: this node's sockets are still known here, other nodes' count as unreachable (pushes for
them are kept in the stored feed). The first beat that reaches Redis again after this node saw it
fail, or that finds its node's key gone (Redis restarted empty), registers the node's sockets again
and ``on_back`` hands their customers what was kept meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Awaitable, Callable

import redis.asyncio

log = logging.getLogger(__name__)

ROOM = "supportbot:presence:"
NODE = "supportbot:node:"


Back = Callable[[list[str]], Awaitable[None]]


class Presence:
    def __init__(self, client: redis.asyncio.Redis, node: str | None = None, ttl: float = 10.0,
                 ready: Callable[[], bool] = lambda: True, on_back: Back | None = None):
        self.client, self.node, self.ttl = client, node or uuid.uuid4().hex, ttl
        self.ready, self.on_back = ready, on_back
        self.here: dict[str, str] = {}  # this node's sockets: sid -> conversation
        self._missed = False  # Redis failed a call since the last beat that reached it
        self._beating: asyncio.Task | None = None

    async def _beat_once(self) -> None:
        if not self.ready():
            return
        known = await self.client.set(NODE + self.node, "1", px=int(self.ttl * 1000), get=True) is not None
        missed, self._missed = self._missed, False
        if known and not missed:
            return
        if self.here:  # Redis lost this node (or never had it): register its sockets again
            async with self.client.pipeline(transaction=False) as pipe:
                for sid, conversation_id in self.here.items():
                    pipe.hset(ROOM + conversation_id, sid, self.node)
                await pipe.execute()
            log.warning("presence: %d sockets of node %s registered again in Redis", len(self.here), self.node)
            if self.on_back is not None:
                await self.on_back(sorted(set(self.here.values())))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._beat_once()
            except redis.RedisError:  # Redis away for a moment: beat again next time
                self._missed = True
            except Exception:  # handing over what was kept (the feed's database): next time
                log.exception("presence: handing over kept messages failed")

    async def joined(self, conversation_id: str, sid: str) -> None:
        try:
            if self._beating is None or self._beating.done():
                try:
                    await self._beat_once()
                finally:
                    self._beating = asyncio.create_task(self._beat())
            self.here[sid] = conversation_id
            await self.client.hset(ROOM + conversation_id, sid, self.node)
        except redis.RedisError as exc:  # registered by the next beat that reaches Redis
            self.here[sid] = conversation_id
            self._missed = True
            log.warning("presence: Redis unreachable (%s); socket %s known on this node only", exc, sid)

    async def left(self, conversation_id: str, sid: str) -> None:
        self.here.pop(sid, None)
        try:
            await self.client.hdel(ROOM + conversation_id, sid)
        except redis.RedisError:  # a restarted Redis has forgotten it anyway; else it dies with the node
            self._missed = True

    async def reachable(self, conversation_id: str) -> bool:
        """Whether a socket of the conversation is connected to a live node (this one included);
        with Redis unreachable, only this node's sockets count."""
        try:
            return await self._reachable_elsewhere(conversation_id)
        except redis.RedisError as exc:
            self._missed = True
            log.warning("presence: Redis unreachable (%s); conversation %s counted as away", exc,
                        conversation_id)
            return False

    async def _reachable_elsewhere(self, conversation_id: str) -> bool:
        stored = await self.client.hgetall(ROOM + conversation_id)
        sockets = {k.decode(): v.decode() for k, v in stored.items()}
        if not sockets:
            return False
        nodes = sorted(set(sockets.values()))
        alive = {n for n, up in zip(nodes, await self.client.mget([NODE + n for n in nodes])) if up}
        dead = [sid for sid, node in sockets.items() if node not in alive]
        if dead:
            await self.client.hdel(ROOM + conversation_id, *dead)
        return len(dead) < len(sockets)

    async def stop(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
        try:
            await self.client.delete(NODE + self.node)
        except redis.RedisError:  # its key expires within ttl
            pass
