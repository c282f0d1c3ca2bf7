"""A throw-away Redis server on loopback for tests (bot/cluster/local.py)."""

from bot.cluster.local import RedisServer, RedisUnavailable

__all__ = ["RedisServer", "RedisUnavailable"]
