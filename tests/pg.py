"""A throw-away PostgreSQL server on loopback for tests (bot/cluster/local.py), and fresh databases on it."""

from __future__ import annotations

import contextlib
import uuid
from typing import Iterator

from bot.cluster.local import Postgres, PostgresUnavailable

__all__ = ["Postgres", "PostgresUnavailable", "fresh_database"]


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server at ``server_url``; its URL, dropped afterwards."""
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()
