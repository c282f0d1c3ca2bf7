"""Failed staff logins count across nodes when Redis is configured (bot/staff/limiter.py)."""

import redis

from bot.staff.limiter import LoginLimiter, RedisLoginLimiter, login_limiter


def test_failures_on_one_node_limit_logins_on_the_other(redis_url):
    node_a = login_limiter(redis_url)
    node_b = RedisLoginLimiter(redis.Redis.from_url(redis_url), attempts=5, window=300)
    assert isinstance(node_a, RedisLoginLimiter)
    key = "ana|203.0.113.9"
    for n in range(5):
        assert node_b.retry_after(key, now=1000.0 + n) == 0
        (node_a if n % 2 else node_b).failed(key, now=1000.0 + n)
    # five failures spread over both nodes: the sixth attempt waits on either
    assert node_a.retry_after(key, now=1010.0) == 290.0
    assert node_b.retry_after(key, now=1010.0) == 290.0
    assert node_a.retry_after("ana|198.51.100.1", now=1010.0) == 0  # another address: not limited
    # the window slides: the oldest failure leaves it
    assert node_b.retry_after(key, now=1300.5) == 0
    node_b.failed(key, now=1301.0)
    assert node_a.retry_after(key, now=1300.8) == 1001.0 + 300 - 1300.8
    node_a.succeeded(key)
    assert node_b.retry_after(key, now=1302.0) == 0


def test_one_node_keeps_its_limiter_in_process():
    assert isinstance(login_limiter(""), LoginLimiter)
