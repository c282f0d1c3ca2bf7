"""Customers' message rates count across nodes when Redis is configured (bot/access/limits.py)."""

import logging

import redis

from bot.access.limits import MessageLimits, RedisMessageLimits, message_limits
from tests.redis_server import RedisServer


def test_messages_sent_through_two_nodes_share_one_limit(redis_url):
    clock = [5000.0]
    node_a = RedisMessageLimits(redis.Redis.from_url(redis_url), 100, 4, clock=lambda: clock[0])
    node_b = RedisMessageLimits(redis.Redis.from_url(redis_url), 100, 4, clock=lambda: clock[0])
    for n in range(4):
        clock[0] = 5000.0 + n
        assert (node_a if n % 2 else node_b).refusal("conv-1", "hi") is None
    clock[0] = 5010.0
    # four messages spread over both nodes: the fifth is refused on either, with the wait until the
    # oldest leaves the minute
    for node in (node_a, node_b):
        refused = node.refusal("conv-1", "hi")
        assert refused is not None and refused.status == 429 and refused.retry_after == 50
    assert node_a.refusal("conv-2", "hi") is None  # another conversation: its own count
    assert node_b.refusal("conv-1", "x" * 101).status == 413  # length still checked, not counted
    clock[0] = 5060.5  # the oldest left the window: one more goes through, then the limit holds again
    assert node_b.refusal("conv-1", "hi") is None
    assert node_a.refusal("conv-1", "hi").retry_after == 1


def test_without_redis_url_one_node_counts_in_process():
    limits = message_limits(100, 3)
    assert type(limits) is MessageLimits


def test_when_redis_goes_away_each_node_counts_alone_and_it_is_logged(caplog):
    with RedisServer() as url:
        limits = message_limits(100, 1, url)
        assert isinstance(limits, RedisMessageLimits)
        assert limits.refusal("conv-3", "hi") is None
        assert limits.refusal("conv-3", "hi").status == 429
    with caplog.at_level(logging.WARNING, logger="bot.access.limits"):
        # the server has stopped: not an error for the customer, and the limit still holds on this node
        assert limits.refusal("conv-3", "hi") is None
        assert limits.refusal("conv-3", "hi").status == 429  # counted here, Redis not asked again at once
        assert limits.refusal("conv-4", "hi") is None
    assert sum("Redis unreachable" in r.message for r in caplog.records) == 1
