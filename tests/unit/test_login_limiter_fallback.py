"""With Redis configured but not answering, failed staff logins are counted by each node alone:
staff can still log in, and guessing a password is still limited (bot/staff/limiter.py)."""

import logging
import socket

from bot.staff.limiter import RedisLoginLimiter, login_limiter


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_a_redis_that_does_not_answer_leaves_the_limit_to_this_node(caplog):
    limiter = login_limiter(f"redis://127.0.0.1:{closed_port()}/0")
    assert isinstance(limiter, RedisLoginLimiter)
    key = "ana|203.0.113.9"
    with caplog.at_level(logging.WARNING, logger="bot.staff.limiter"):
        for n in range(5):
            assert limiter.retry_after(key, now=100.0 + n) == 0  # not an error: a login goes on
            limiter.failed(key, now=100.0 + n)
        assert limiter.retry_after(key, now=110.0) == 290.0  # the sixth attempt waits
        assert limiter.retry_after("bo|203.0.113.9", now=110.0) == 0
        limiter.succeeded(key)
        assert limiter.retry_after(key, now=111.0) == 0
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # asked once, then left alone for a while
