import os

import pytest

from tests.pg import Postgres, PostgresUnavailable, fresh_database
from tests.redis_server import RedisServer, RedisUnavailable


def _serve(server, unavailable):
    """The server's URL for the module's tests; skipped (failed under CI) when it cannot start."""
    try:
        with server as url:
            yield url
    except unavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def redis_url():
    yield from _serve(RedisServer(), RedisUnavailable)


@pytest.fixture(scope="module")
def postgres_url():
    yield from _serve(Postgres(), PostgresUnavailable)


@pytest.fixture
def database(postgres_url):
    """A fresh database on the module's PostgreSQL server."""
    with fresh_database(postgres_url) as url:
        yield url
