"""Rasa's SQL tracker store, without re-reading the conversation to find what is new on each save.

Rasa 3.6's ``SQLTrackerStore.save`` finds the events to store by counting the stored ones, and,
with an event broker configured (ours relays hand-off messages), first *retrieves and
deserialises the whole conversation* just to find the events to publish. It saves two or three
times per turn, so a turn's cost grew with the conversation's length (profiled with py-spy).

Here the count of stored events is remembered per conversation: set when the conversation is
read, advanced when events are saved, and forgotten whenever Rasa's own count would not simply
advance (a new session starts, or the whole history was read). Rasa reads a conversation at the
start of every turn under its lock, so the remembered count is current whenever it saves.
SQLite files also keep a pooled connection instead of reopening the file for every query, and
write ahead (WAL, synchronous=NORMAL): a commit no longer waits ~1 ms for the disk while the
event loop, and so every customer, waits with it. Safe against crashes of the bot; a power cut
can lose the last moments of conversations (use PostgreSQL where that matters).
Reading a conversation is cheaper too: the stored JSON of the latest session's events is kept
per conversation (up to ``REMEMBERED_CHARS`` in all), and each read asks the database only for
rows newer than the last one seen, so the events table stays the only source of truth (another
Rasa instance's writes are read like our own). A new session, or a read across all sessions,
takes the full query, as in Rasa.
Same tables, same rows, same published events, same trackers read back, except that the personal
data the operator masks at rest (``SUPPORTBOT_MASK_AT_REST``, ``bot.privacy.at_rest``) is masked in
the rows as they are written: the current turn ran on what the customer typed, later turns read the
masked text. A conversation erased or purged in the database (``supportbot forget``/``purge``) is
noticed on its next read: the remembered rows are only reused while their last row still exists.

On PostgreSQL the pool pings a connection before lending it (Rasa's engine does not): after the
server restarts, the first turn on each node no longer fails on a connection the server has closed.
And a database that fails is an error (``install_fail_loudly``), where Rasa would run the turn on an
empty conversation in memory and keep it there, out of the transcript for good.

Configured in ``endpoints.yml``: ``tracker_store: type: bot.rasa.tracker_store.SupportTrackerStore``.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

import sqlalchemy as sa
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
    TrackerStore,
    create_engine_kwargs,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot.db import is_sqlite_file, sqlite_engine
from bot.privacy.at_rest import AtRest

REMEMBERED_CONVERSATIONS = 10_000
REMEMBERED_CHARS = 64_000_000  # stored JSON of recent conversations kept for reading (~64 MB)


@dataclass
class _Stored:
    """The latest session of one conversation as stored: its rows' JSON, the last row's id."""

    last_id: int
    session_start: float | None  # timestamp of the latest session_started row, if any
    data: list[str]
    chars: int = field(init=False)

    def __post_init__(self) -> None:
        self.chars = sum(map(len, self.data))


class _Masked:
    """An event as Rasa's ``save`` writes it (its type and ``as_dict()``), with personal data masked."""

    def __init__(self, event: Event, at_rest: AtRest):
        self.type_name, self._event, self._at_rest = event.type_name, event, at_rest

    def as_dict(self) -> dict[str, Any]:
        return self._at_rest.event(self._event.as_dict())


class SupportTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, at_rest: AtRest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if at_rest is None:
            from bot.runtime import settings

            at_rest = AtRest.from_settings(settings())
        self.at_rest = at_rest
        self._stored: OrderedDict[str, int] = OrderedDict()  # events in the latest session
        self._read: OrderedDict[str, _Stored] = OrderedDict()  # what the last reads returned
        self._read_chars = 0
        engine: sa.engine.Engine = self.engine  # type: ignore[has-type]
        if is_sqlite_file(engine.url):
            engine.dispose()
            self.engine = sqlite_engine(engine.url, future=False, synchronous_normal=True)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        elif engine.dialect.name == "postgresql":
            engine.dispose()
            self.engine = sa.create_engine(engine.url, pool_pre_ping=True, **create_engine_kwargs(engine.url))
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _remember(self, sender_id: str, count: int) -> None:
        self._stored[sender_id] = count
        self._stored.move_to_end(sender_id)
        if len(self._stored) > REMEMBERED_CONVERSATIONS:
            self._stored.popitem(last=False)

    def _stored_count(self, sender_id: str) -> int:
        count = self._stored.get(sender_id)
        if count is None:
            with self.session_scope() as session:
                count = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
            self._remember(sender_id, count)
        return count

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool
                        ) -> DialogueStateTracker | None:
        if fetch_events_from_all_sessions:
            self._stored.pop(sender_id, None)
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        data = self._latest_session(sender_id)
        self._remember(sender_id, len(data))
        if not (self.domain and data):
            return None
        return DialogueStateTracker.from_dict(sender_id, [json.loads(d) for d in data], self.domain.slots)

    def _latest_session(self, sender_id: str) -> list[str]:
        """The stored JSON of the latest session's events, reading only rows not seen before."""
        table = self.SQLEvent.__table__
        known = self._read.get(sender_id)
        with self.engine.connect() as conn:
            if known is not None:
                query = sa.select(table.c.id, table.c.type_name, table.c.data).where(
                    table.c.sender_id == sender_id, table.c.id >= known.last_id)
                if known.session_start is not None:
                    query = query.where(table.c.timestamp >= known.session_start)
                new = conn.execute(query.order_by(table.c.id)).all()
                still_there = bool(new) and new[0].id == known.last_id  # else erased: read it afresh
                new = new[1:]
                if still_there and not any(r.type_name == SessionStarted.type_name for r in new):
                    if new:
                        known = _Stored(new[-1].id, known.session_start, known.data + [r.data for r in new])
                    self._keep(sender_id, known)
                    return known.data
            start = conn.execute(sa.select(sa.func.max(table.c.timestamp)).where(
                table.c.sender_id == sender_id,
                table.c.type_name == SessionStarted.type_name)).scalar()
            query = sa.select(table.c.id, table.c.data).where(table.c.sender_id == sender_id)
            if start is not None:
                query = query.where(table.c.timestamp >= start)
            rows = conn.execute(query.order_by(table.c.id)).all()
        if rows:
            self._keep(sender_id, _Stored(rows[-1].id, start, [r.data for r in rows]))
        else:
            self._forget(sender_id)
        return [r.data for r in rows]

    def _keep(self, sender_id: str, stored: _Stored) -> None:
        self._forget(sender_id)
        self._read[sender_id] = stored  # newest last
        self._read_chars += stored.chars
        while self._read_chars > REMEMBERED_CHARS and len(self._read) > 1:
            self._forget(next(iter(self._read)))

    def _forget(self, sender_id: str) -> None:
        gone = self._read.pop(sender_id, None)
        if gone is not None:
            self._read_chars -= gone.chars

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is not None:
            new_events = itertools.islice(tracker.events, self._stored_count(tracker.sender_id), None)
            bodies = [{"sender_id": tracker.sender_id, **e.as_dict()} for e in new_events]
            publish_many = getattr(self.event_broker, "publish_many", None)  # the hand-off relay's
            if publish_many is not None:
                publish_many(bodies)
            else:
                for body in bodies:
                    self.event_broker.publish(body)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """What Rasa's ``save`` writes: the new events, masked for storage."""
        new = itertools.islice(tracker.events, self._stored_count(tracker.sender_id), None)
        return (_Masked(e, self.at_rest) for e in new)

    async def save(self, tracker: DialogueStateTracker) -> None:
        sender_id = tracker.sender_id
        new_events = list(itertools.islice(tracker.events, self._stored_count(sender_id), None))
        try:
            await super().save(tracker)
        except BaseException:
            self._stored.pop(sender_id, None)
            raise
        if any(isinstance(e, SessionStarted) for e in new_events):
            self._stored.pop(sender_id, None)  # Rasa counts from the new session's start now
        else:
            self._remember(sender_id, len(tracker.events))


def _raise(error: Exception) -> None:
    raise error


def _fail_loudly(store: TrackerStore | None, domain: Domain) -> TrackerStore:
    if store is not None:
        store.domain = domain
    return FailSafeTrackerStore(store or InMemoryTrackerStore(domain), on_tracker_store_error=_raise)


def install_fail_loudly() -> None:
    """Rasa wraps the tracker store in a ``FailSafeTrackerStore`` that, when the database fails, reads
    the conversation as new and saves the turn in memory: the customer is answered as a stranger (a
    hand-off's pause forgotten) and the turn never reaches the transcript. Its error callback raises
    here instead, so the turn fails and the channel tells the customer to send it again."""
    from rasa.core.agent import Agent

    Agent._create_tracker_store = staticmethod(_fail_loudly)  # type: ignore[method-assign,assignment]
