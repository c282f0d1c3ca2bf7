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
Same tables, same rows, same published events.

Configured in ``endpoints.yml``: ``tracker_store: type: bot.rasa_ext.tracker_store.SupportTrackerStore``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, Iterator

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.pool import QueuePool

REMEMBERED_CONVERSATIONS = 10_000


def _write_ahead(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SupportTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored: OrderedDict[str, int] = OrderedDict()  # events in the latest session
        engine: sa.engine.Engine = self.engine  # type: ignore[has-type]
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            engine.dispose()
            self.engine = sa.create_engine(engine.url, poolclass=QueuePool,
                                           connect_args={"check_same_thread": False})
            sa.event.listen(self.engine, "connect", _write_ahead)
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
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if fetch_events_from_all_sessions:
            self._stored.pop(sender_id, None)
        else:
            self._remember(sender_id, len(tracker.events) if tracker else 0)
        return tracker

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is not None:
            new_events = list(itertools.islice(tracker.events, self._stored_count(tracker.sender_id), None))
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        return itertools.islice(tracker.events, self._stored_count(tracker.sender_id), None)

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
