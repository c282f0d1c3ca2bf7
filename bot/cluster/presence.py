"""Which conversations have a live socket.io connection, on any node: so an agent's message written on
node A is pushed to the customer connected to node B (through python-socketio's Redis manager) and
kept in the stored feed only when they are connected nowhere.

One Redis hash per conversation (socket id -> node), and a key per node that lives while the node
beats (every third of ``ttl``): the sockets of a node that died without saying goodbye count as gone.
"""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio

ROOM = "supportbot:presence:"
NODE = "supportbot:node:"


class Presence:
    def __init__(self, client: redis.asyncio.Redis, node: str | None = None, ttl: float = 10.0):
        self.client, self.node, self.ttl = client, node or uuid.uuid4().hex, ttl
        self._beating: asyncio.Task | None = None

    async def _beat_once(self) -> None:
        await self.client.set(NODE + self.node, "1", px=int(self.ttl * 1000))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._beat_once()
            except redis.RedisError:  # Redis away for a moment: beat again next time
                pass

    async def joined(self, conversation_id: str, sid: str) -> None:
        if self._beating is None or self._beating.done():
            await self._beat_once()
            self._beating = asyncio.create_task(self._beat())
        await self.client.hset(ROOM + conversation_id, sid, self.node)

    async def left(self, conversation_id: str, sid: str) -> None:
        await self.client.hdel(ROOM + conversation_id, sid)

    async def reachable(self, conversation_id: str) -> bool:
        """Whether a socket of the conversation is connected to a live node (this one included)."""
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
        await self.client.delete(NODE + self.node)
