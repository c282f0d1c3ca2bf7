"""The throw-away PostgreSQL and Redis of bot/cluster/local.py stop and start again on the same port
(and, for PostgreSQL, the same data): what the fault tests rely on."""

import pytest
import redis
import sqlalchemy as sa

from tests.pg import Postgres, PostgresUnavailable
from tests.redis_server import RedisServer, RedisUnavailable


def started(server, unavailable):
    """The server's URL once it runs; the test is skipped where its Debian package is missing."""
    try:
        return server.__enter__()
    except unavailable as exc:
        pytest.skip(str(exc))


def test_postgres_restarts_on_its_port_with_its_data():
    server = Postgres()
    url = started(server, PostgresUnavailable)
    try:
        db = sa.create_engine(url, future=True, pool_pre_ping=True)
        with db.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kept (v text)"))
            conn.execute(sa.text("INSERT INTO kept VALUES ('before')"))
        server.stop()
        with pytest.raises(sa.exc.OperationalError):
            with db.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        assert server.start() == url
        with db.connect() as conn:
            assert conn.execute(sa.text("SELECT v FROM kept")).scalars().all() == ["before"]
        db.dispose()
    finally:
        server.__exit__(None, None, None)


def test_redis_restarts_on_its_port_empty():
    server = RedisServer()
    url = started(server, RedisUnavailable)
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.set("k", "v")
        server.stop()
        with pytest.raises(redis.ConnectionError):
            client.get("k")
        assert server.restart() == url
        assert client.get("k") is None  # nothing persisted: a restarted Redis is empty
        client.close()
    finally:
        server.__exit__(None, None, None)
