import os

import pytest

from tests.redis_server import RedisServer, RedisUnavailable


@pytest.fixture(scope="module")
def redis_url():
    try:
        with RedisServer() as url:
            yield url
    except RedisUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
