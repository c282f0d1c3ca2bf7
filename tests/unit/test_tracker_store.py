"""SupportTrackerStore must store and publish exactly what Rasa's SQLTrackerStore does."""

import asyncio
import json
from pathlib import Path

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import EventVerbosity
from rasa.utils.endpoints import read_endpoint_config

from bot.rasa.launcher import install_speedups
from bot.rasa.tracker_store import SupportTrackerStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  handoff_offered: {type: bool, influence_conversation: false, mappings: [{type: custom}]}
""")


class Collect(EventBroker):
    def __init__(self):
        self.published = []

    def publish(self, event):
        self.published.append(event)


async def conversation(store, sender="c1", reads=None):
    """Two turns, a new session, one more turn, then an API-style full read and an append:
    saved after every step the way Rasa's processor does. ``reads`` collects what each read
    returned."""
    reads = [] if reads is None else reads
    tracker = await store.get_or_create_tracker(sender)
    ts = 1000.0
    for step, events in enumerate([
        [UserUttered("where is my parcel", timestamp=ts + 1), ActionExecuted("action_faq", timestamp=ts + 2)],
        [BotUttered("Track it here", timestamp=ts + 3), SlotSet("handoff_offered", False, timestamp=ts + 3),
         ActionExecuted("action_listen", timestamp=ts + 4)],
        [ActionExecuted("action_session_start", timestamp=ts + 10), SessionStarted(timestamp=ts + 11),
         ActionExecuted("action_listen", timestamp=ts + 12)],
        [UserUttered("and refunds?", timestamp=ts + 13), BotUttered("Refunds take 5 days", timestamp=ts + 14)],
    ]):
        if step in (1, 3):  # a new turn starts from a fresh read, as Rasa's processor does
            tracker = await store.retrieve(sender)
        reads.append(state(tracker))
        for e in events:
            tracker.update(e)
        await store.save(tracker)
        await store.save(tracker)  # Rasa saves again at the end of a turn: nothing new
    full = await store.retrieve_full_tracker(sender)
    reads.append(state(full))
    full.update(BotUttered("an agent's note", timestamp=ts + 20))
    await store.save(full)
    reads.append(state(await store.retrieve(sender)))


def without_time(event: dict) -> dict:
    """The first action_listen is stamped with the clock when the conversation starts."""
    return {k: v for k, v in event.items() if k != "timestamp"}


def state(tracker) -> dict:
    """What a turn starts from: every event, the slots, paused or not (clock times left out)."""
    full = tracker.current_state(EventVerbosity.ALL)
    return {"events": [without_time(e) for e in full["events"]], "slots": full["slots"],
            "paused": full["paused"], "latest_message": full["latest_message"]}


def rows(store):
    with store.session_scope() as session:
        return [(r.sender_id, r.type_name, without_time(json.loads(r.data)))
                for r in session.query(store.SQLEvent).order_by(store.SQLEvent.id)]


@pytest.mark.parametrize("sessions", [1, 2])
def test_same_rows_and_same_published_events_as_rasa(tmp_path, sessions):
    results = []
    for cls in (SQLTrackerStore, SupportTrackerStore):
        broker = Collect()
        store = cls(domain=DOMAIN, db=str(tmp_path / f"{cls.__name__}.db"), event_broker=broker)
        reads = []
        for n in range(sessions):
            asyncio.run(conversation(store, sender=f"c{n}", reads=reads))
        results.append((rows(store), [without_time(e) for e in broker.published], reads))
    (rasa_rows, rasa_published, rasa_reads), (our_rows, our_published, our_reads) = results
    assert len(our_rows) >= 10
    assert our_rows == rasa_rows
    assert our_published == rasa_published
    assert len(our_reads) == 6 * sessions
    assert our_reads == rasa_reads


def test_a_broker_that_takes_a_turn_at_once_gets_the_same_events_in_one_call(tmp_path):
    class Batches(Collect):
        def __init__(self):
            super().__init__()
            self.batches = []

        def publish_many(self, events):
            self.batches.append(events)
            self.published.extend(events)

    single, batched = Collect(), Batches()
    for n, broker in enumerate((single, batched)):
        asyncio.run(conversation(SupportTrackerStore(domain=DOMAIN, db=str(tmp_path / f"{n}.db"),
                                                     event_broker=broker)))
    assert [without_time(e) for e in batched.published] == [without_time(e) for e in single.published]
    # one call per save: a turn's events together, not one call each
    assert len(batched.batches) == 10 and len(batched.published) > 15


def test_a_second_process_writing_between_turns_is_seen(tmp_path):
    """Two stores on one database (two Rasa instances): each turn starts with a read, so neither
    relies on a count the other one made stale."""
    db = str(tmp_path / "shared.db")
    a = SupportTrackerStore(domain=DOMAIN, db=db)
    b = SupportTrackerStore(domain=DOMAIN, db=db)

    async def turn(store, text, ts):
        tracker = await store.get_or_create_tracker("c")
        tracker.update(UserUttered(text, timestamp=ts))
        await store.save(tracker)

    async def run():
        await turn(a, "one", 1.0)
        await turn(b, "two", 2.0)
        await turn(a, "three", 3.0)
        return await a.retrieve("c")

    tracker = asyncio.run(run())
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["one", "two", "three"]


@pytest.mark.parametrize("remembered_chars", [64_000_000, 1])
def test_reads_see_other_writers_and_new_sessions(tmp_path, monkeypatch, remembered_chars):
    """Reads are incremental (only rows newer than the last one read): rows another instance
    wrote are read, a session it started hides the old one, and a forgotten conversation
    (memory budget exceeded) is read in full."""
    monkeypatch.setattr("bot.rasa.tracker_store.REMEMBERED_CHARS", remembered_chars)
    db = str(tmp_path / "shared.db")
    ours, other, rasa = (SupportTrackerStore(domain=DOMAIN, db=db), SupportTrackerStore(domain=DOMAIN, db=db),
                         SQLTrackerStore(domain=DOMAIN, db=db))

    async def append(store, sender, *events):
        tracker = await store.get_or_create_tracker(sender)
        for e in events:
            tracker.update(e)
        await store.save(tracker)

    async def run():
        seen = []
        for sender in ("a", "b"):
            await append(ours, sender, UserUttered(f"{sender} one", timestamp=1.0))
        for step in range(3):
            await append(other, "a", UserUttered(f"a from other {step}", timestamp=2.0 + step))
            seen.append((state(await ours.retrieve("a")), state(await rasa.retrieve("a"))))
        await append(other, "a", ActionExecuted("action_session_start", timestamp=10.0),
                     SessionStarted(timestamp=11.0), UserUttered("a new session", timestamp=12.0))
        seen.append((state(await ours.retrieve("a")), state(await rasa.retrieve("a"))))
        await append(ours, "a", BotUttered("hello again", timestamp=13.0))
        seen.append((state(await ours.retrieve("a")), state(await rasa.retrieve("a"))))
        seen.append((state(await ours.retrieve("b")), state(await rasa.retrieve("b"))))
        return seen

    seen = asyncio.run(run())
    for mine, theirs in seen:
        assert mine == theirs
    texts = [e["text"] for e in seen[-2][0]["events"] if e["event"] in ("user", "bot")]
    assert texts == ["a new session", "hello again"]
    assert len(ours._read) == (2 if remembered_chars > 1 else 1)


def test_endpoints_yml_loads_our_store_not_rasas_silent_in_memory_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DIALECT", "sqlite")
    monkeypatch.setenv("TRACKER_URL", "")
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "t.db"))
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t")
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = create_tracker_store(config, DOMAIN)
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, SupportTrackerStore)


def test_remembered_event_lookup_still_rejects_unknown_events():
    from rasa.shared.core.events import Event

    install_speedups()
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("user") is UserUttered
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


def test_sqlite_file_is_written_ahead(tmp_path):
    store = SupportTrackerStore(domain=DOMAIN, db=str(tmp_path / "t.db"))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
