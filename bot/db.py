"""One engine factory for our own tables (hand-offs, staff, feed, outbox), and SQLite's pragmas once.

Every store takes an ``Engine`` from :func:`engine`; stores given the same URL share one pool.
SQLite files are written ahead (WAL); the tracker store and the inbox (``durable=False``) also
commit without waiting for the disk (SQLite ``synchronous=NORMAL``, PostgreSQL
``synchronous_commit=off``), where a power cut or a crash of the database server, not a crash of
ours, may lose the last commits.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

__all__ = ["metadata", "tracker_events", "engine", "sqlite_pragmas", "sqlite_engine", "is_sqlite_file",
           "utcnow", "aware"]

metadata = sa.MetaData()  # every table of ours is declared on this one

# Rasa's SQL tracker store table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent), the columns we
# read (retention deletes from it, analytics reads it); declared on its own metadata: never created by
# us (unit tests check it matches Rasa's).
tracker_events = sa.Table(
    "events", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def sqlite_pragmas(dbapi_connection: Any, *, synchronous_normal: bool = False,
                   foreign_keys: bool = False) -> None:
    """Write-ahead logging (readers never wait for the writer), and optionally relaxed syncs."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    if synchronous_normal:
        cursor.execute("PRAGMA synchronous=NORMAL")
    if foreign_keys:
        cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_sqlite_file(url: sa.engine.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def sqlite_engine(url: str | sa.engine.URL, future: bool = True, **pragmas: bool) -> sa.engine.Engine:
    """A pooled SQLite engine (SQLAlchemy 1.4 reopens files per query by default) with the pragmas;
    ``future=False`` for Rasa's tracker store, written for SQLAlchemy's 1.x API."""
    parsed = sa.engine.make_url(url)
    engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30},
                              future=future, **({"poolclass": QueuePool} if is_sqlite_file(parsed) else {}))
    sa.event.listen(engine, "connect", lambda conn, _record: sqlite_pragmas(conn, **pragmas))
    return engine


@functools.lru_cache(maxsize=8)
def engine(url: str, durable: bool = True) -> sa.engine.Engine:
    """The engine for ``url`` (SQLite or PostgreSQL), shared by every store of this process.
    A SQLite file's folder is created if missing (``.rasa/`` in a fresh checkout).

    ``durable=False``: a commit returns once the database has the rows, before they reach the disk
    (a second pool on the same database). For records the customer's turn writes and nobody was
    promised (the inbox's counts of answers and misses): a commit that waits for the disk took
    ~4 ms here (8 ms p95), on every FAQ turn, with the action server's event loop waiting."""
    if url.startswith("sqlite"):
        parsed = sa.engine.make_url(url)
        if is_sqlite_file(parsed):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        return sqlite_engine(parsed, foreign_keys=True, synchronous_normal=not durable)
    options = {} if durable else {"connect_args": {"options": "-c synchronous_commit=off"}}
    return sa.create_engine(url, pool_pre_ping=True, future=True, **options)

