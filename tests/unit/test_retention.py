"""Retention and erasure across every store (bot.privacy.retention), on real-shaped rows; the store
tests are re-run on PostgreSQL by tests/integration/test_postgres_store.py."""

import asyncio
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.db import utcnow
from bot.delivery.feed import feed as feed_table
from bot.handoff.packet import Reason, build_packet
from bot.handoff.states import ASSIGNED, RESOLVED
from bot.handoff.store import handoffs, messages, transitions
from bot.privacy.retention import Retention, parse_age, tracker_events
from tests.handoff_events import EVENTS
from tests.unit import test_handoff_store as _stores

store, feed, outbox = _stores.store, _stores.feed, _stores.outbox  # the same fixtures (and PostgreSQL's)

DAY = 86400.0


def add_conversation(engine, sender, start, events=EVENTS):
    """Rasa's rows for ``events`` (as the SQL tracker store writes them), shifted to start at ``start``."""
    tracker_events.metadata.create_all(engine)
    first = events[0]["timestamp"]
    with engine.begin() as conn:
        for e in events:
            e = {**e, "timestamp": start + e["timestamp"] - first}
            conn.execute(tracker_events.insert().values(sender_id=sender, type_name=e["event"],
                                                        timestamp=e["timestamp"], data=json.dumps(e)))


def tracker_rows(engine, sender):
    with engine.connect() as conn:
        return [json.loads(d) for d in conn.execute(sa.select(tracker_events.c.data).where(
            tracker_events.c.sender_id == sender).order_by(tracker_events.c.id)).scalars()]


def open_handoff(store, outbox, conversation, days_ago, final=True, email=None):
    h, _ = store.open(build_packet(conversation, EVENTS, {"customer_email": email} if email else {},
                                   Reason.user_request))
    store.add_message(h.id, "customer", "still there?")
    if final:
        store.transition(h.id, ASSIGNED, agent="ana")
        store.transition(h.id, RESOLVED, actor="ana")
    outbox.enqueue_webhook(f"{h.id}:handoff.created", "http://hooks.example/a", {"handoff_id": h.id})
    then = utcnow() - timedelta(days=days_ago)
    with store.engine.begin() as conn:
        conn.execute(handoffs.update().where(handoffs.c.id == h.id).values(created_at=then, updated_at=then))
        conn.execute(messages.update().where(messages.c.handoff_id == h.id).values(at=then))
        conn.execute(transitions.update().where(transitions.c.handoff_id == h.id).values(at=then))
    return h.id


def count(store, table, *where):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def feed_at(store, feed, conversation, days_ago):
    fid = feed.feed_push(conversation, {"recipient_id": conversation, "text": "ana: it ships tomorrow"})
    with store.engine.begin() as conn:
        conn.execute(feed_table.update().where(feed_table.c.id == fid).values(
            at=utcnow() - timedelta(days=days_ago)))


def test_the_tracker_table_declared_here_is_rasas():
    from rasa.core.tracker_store import SQLTrackerStore

    rasa = SQLTrackerStore.SQLEvent.__table__
    assert rasa.name == tracker_events.name
    for column in tracker_events.columns:
        assert type(rasa.c[column.name].type) is type(column.type), column.name


@pytest.mark.parametrize("raw,expected", [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)),
                                          (" 7D ", timedelta(days=7))])
def test_ages_are_days_or_hours(raw, expected):
    assert parse_age(raw) == expected


@pytest.mark.parametrize("raw", ["90", "3w", "0d", "-1d", "", "1.5d", "90 days"])
def test_other_ages_are_refused_with_what_to_write(raw):
    with pytest.raises(ValueError, match=r"whole number of days or hours, such as 90d or 12h; got"):
        parse_age(raw)


def test_purge_deletes_what_is_older_in_every_store_and_keeps_the_rest(store, feed, outbox):
    now = utcnow().timestamp()
    add_conversation(store.engine, "idle", now - 100 * DAY)
    add_conversation(store.engine, "recent", now - DAY)
    # an active conversation: an old session, then a new one yesterday
    add_conversation(store.engine, "active", now - 100 * DAY)
    add_conversation(store.engine, "active", now - DAY, [
        {"event": "action", "timestamp": 0.0, "name": "action_session_start"},
        {"event": "session_started", "timestamp": 0.1},
        {"event": "user", "timestamp": 1.0, "text": "back again", "parse_data": {"intent": {"name": "greet"}}}])
    old_done = open_handoff(store, outbox, "idle", days_ago=100)
    old_open = open_handoff(store, outbox, "stuck", days_ago=100, final=False)
    recent = open_handoff(store, outbox, "recent", days_ago=1)
    feed_at(store, feed, "idle", days_ago=100)
    feed_at(store, feed, "recent", days_ago=1)
    retention = Retention(store.engine, store.engine)

    dry = retention.purge(timedelta(days=90), dry_run=True)
    assert count(store, tracker_events) == 3 * len(EVENTS) + 3  # nothing deleted in a dry run
    done = retention.purge(timedelta(days=90))
    assert vars(dry) == vars(done)
    assert (done.conversations, done.tracker_events) == (1, 2 * len(EVENTS))
    assert tracker_rows(store.engine, "idle") == []
    assert len(tracker_rows(store.engine, "recent")) == len(EVENTS)
    assert [e["event"] for e in tracker_rows(store.engine, "active")] == ["action", "session_started", "user"]
    assert (done.handoffs, done.handoff_messages, done.handoff_transitions) == (1, 1, 3)
    assert done.open_handoffs_kept == 1
    assert count(store, handoffs, handoffs.c.id == old_done) == 0
    assert count(store, handoffs, handoffs.c.id.in_([old_open, recent])) == 2
    assert count(store, messages, messages.c.handoff_id == old_done) == 0
    assert count(store, transitions, transitions.c.handoff_id == old_done) == 0
    assert (done.feed_messages, count(store, feed_table)) == (1, 1)
    assert done.webhook_deliveries == 1  # the purged hand-off's
    kept = sorted(r["idempotency_key"].split(":")[0] for r in outbox.webhook_rows())
    assert kept == sorted([old_open, recent])
    assert vars(retention.purge(timedelta(days=90))) == vars(type(done)(open_handoffs_kept=1))  # idempotent


def test_delivered_webhooks_are_purged_after_the_period(store, outbox):
    hid = open_handoff(store, outbox, "c", days_ago=1, final=False)
    [row] = outbox.webhook_rows()
    outbox.webhook_delivered(row["id"])
    retention = Retention(None, store.engine)
    assert retention.purge(timedelta(days=90)).webhook_deliveries == 0
    assert retention.purge(timedelta(hours=1), now=utcnow() + timedelta(hours=2)).webhook_deliveries == 1
    assert count(store, handoffs, handoffs.c.id == hid) == 1  # still open: kept


def test_forget_a_sender_erases_them_from_every_store_and_nobody_else(store, feed, outbox):
    now = utcnow().timestamp()
    for sender in ("probe-1", "probe-2"):
        add_conversation(store.engine, sender, now - DAY)
        open_handoff(store, outbox, sender, days_ago=1)
        feed_at(store, feed, sender, days_ago=1)
    retention = Retention(store.engine, store.engine)
    done = retention.forget_sender("probe-1")
    assert (done.conversations, done.tracker_events, done.handoffs, done.handoff_messages,
            done.handoff_transitions, done.feed_messages, done.webhook_deliveries) == (
        1, len(EVENTS), 1, 1, 3, 1, 1)
    assert tracker_rows(store.engine, "probe-1") == [] and store.latest_for("probe-1") is None
    assert count(store, feed_table, feed_table.c.conversation_id == "probe-1") == 0
    assert len(tracker_rows(store.engine, "probe-2")) == len(EVENTS) and store.latest_for("probe-2")
    assert len(outbox.webhook_rows()) == 1
    assert vars(retention.forget_sender("probe-1"))["handoffs"] == 0  # nothing left


def test_forget_an_email_finds_every_conversation_that_carried_it(store, feed, outbox):
    now = utcnow().timestamp()
    said = [*EVENTS[:-1], {**EVENTS[-1], "text": "I'm Jo_Doe@Example.com, talk to a human"}]
    add_conversation(store.engine, "by-text", now - DAY, said)  # no hand-off: found in the tracker
    add_conversation(store.engine, "by-handoff", now - DAY)
    open_handoff(store, outbox, "by-handoff", days_ago=1, email="jo_doe@example.com")
    add_conversation(store.engine, "look-alike", now - DAY,  # '_' is no wildcard
                     [*EVENTS[:-1], {**EVENTS[-1], "text": "I'm joXdoe@example.com"}])
    done = Retention(store.engine, store.engine).forget_email("JO_DOE@example.com")
    assert done.conversation_ids == ["by-handoff", "by-text"]
    assert (done.conversations, done.handoffs) == (2, 1)
    assert tracker_rows(store.engine, "by-text") == [] and store.latest_for("by-handoff") is None
    assert len(tracker_rows(store.engine, "look-alike")) == len(EVENTS)
    with pytest.raises(ValueError, match="--email takes an email address"):
        Retention(store.engine, store.engine).forget_email("jo at example")


def test_a_running_tracker_store_notices_a_forgotten_conversation(tmp_path):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered

    from bot.db import engine
    from bot.privacy.at_rest import AtRest
    from bot.rasa.tracker_store import SupportTrackerStore

    db = tmp_path / "tracker.db"
    rasa = SupportTrackerStore(domain=Domain.empty(), db=str(db), at_rest=AtRest())

    async def say(text):
        tracker = await rasa.get_or_create_tracker("c")
        tracker.update(UserUttered(text))
        await rasa.save(tracker)
        return [e.text for e in (await rasa.retrieve("c")).events if isinstance(e, UserUttered)]

    assert asyncio.run(say("my card is 4111 1111 1111 1111")) == ["my card is 4111 1111 1111 1111"]
    done = Retention(engine(f"sqlite:///{db}"), engine(f"sqlite:///{tmp_path / 'h.db'}")).forget_sender("c")
    assert done.conversations == 1 and done.tracker_events >= 1
    assert asyncio.run(rasa.retrieve("c")) is None  # not the remembered copy
    assert asyncio.run(say("hello again")) == ["hello again"]
    assert [e["text"] for e in tracker_rows(engine(f"sqlite:///{db}"), "c") if e["event"] == "user"] == [
        "hello again"]


def test_the_cli_purges_and_forgets_across_the_configured_stores(tmp_path, capsys):
    from bot.cli import main
    from bot.db import engine
    from bot.delivery.feed import FeedStore
    from bot.events.outbox import Outbox
    from bot.handoff.store import HandoffStore
    from bot.settings import Settings

    settings = Settings(root=tmp_path, tracker_db="t/tracker.db", handoff_db="t/handoff.db")
    tracker = engine(f"sqlite:///{tmp_path / 't' / 'tracker.db'}")
    store = HandoffStore(engine(settings.handoff_db_url))
    add_conversation(tracker, "old", utcnow().timestamp() - 100 * DAY)
    add_conversation(tracker, "probe-12345678", utcnow().timestamp() - DAY)
    open_handoff(store, Outbox(store.engine), "old", days_ago=100)
    open_handoff(store, Outbox(store.engine), "probe-12345678", days_ago=1, email="jo@example.com")
    feed_at(store, FeedStore(store.engine), "probe-12345678", days_ago=1)

    assert main(["purge", "--older-than", "90d", "--dry-run"], settings) == 0
    assert capsys.readouterr().out.startswith("would delete what was last touched before")
    assert len(tracker_rows(tracker, "old")) == len(EVENTS)
    assert main(["purge", "--older-than", "90d"], settings) == 0
    out = capsys.readouterr().out
    assert f"conversations (tracker): 1 whole, {len(EVENTS)} events" in out
    assert "hand-offs: 1, with 1 messages and 3 transitions" in out and "webhook outbox: 1 deliveries" in out
    assert tracker_rows(tracker, "old") == []

    assert main(["forget", "--email", "Jo@Example.com"], settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("erased conversation(s) probe-12345678:")
    assert "customer feed: 1 messages" in out and tracker_rows(tracker, "probe-12345678") == []
    assert main(["forget", "--sender", "probe-12345678"], settings) == 0
    assert capsys.readouterr().out == "nothing stored about probe-12345678\n"

    for argv, problem in [(["purge", "--older-than", "3w"], "--older-than takes a whole number of days"),
                          (["forget", "--email", "jo"], "--email takes an email address"),
                          (["forget", "--sender", " "], "--sender takes a conversation id")]:
        assert main(argv, settings) == 1
        assert capsys.readouterr().err.startswith(f"error: {problem}")
    with pytest.raises(SystemExit):
        main(["forget"], settings)  # --sender or --email is required
    assert "one of the arguments --sender --email is required" in capsys.readouterr().err


def test_forget_and_purge_take_each_entrys_answer_records(store):
    from bot.inbox.figures import entry_figures, faq_answers, record_answer

    for sender in ("probe-1", "probe-2"):
        record_answer(store.engine, sender, "refund-time")
    retention = Retention(store.engine, store.engine)
    assert retention.forget_sender("probe-1").inbox_questions == 1
    assert entry_figures(store.engine)["refund-time"]["answered"] == 1
    with store.engine.begin() as conn:
        conn.execute(faq_answers.update().values(at=utcnow() - 100 * timedelta(days=1)))
    assert retention.purge(timedelta(days=90)).inbox_questions == 1
    assert "refund-time" not in entry_figures(store.engine)


def test_forgetting_a_customer_takes_the_email_replies_to_their_tickets(store):
    """Issue 19: a ticket's e-mail replies (email_outbox) hold the address and the conversation."""
    from bot.handoff.tickets import TicketReplies
    from bot.mail.outbox import MailOutbox
    from bot.settings import Settings

    h, _ = store.open(build_packet("ticketed", EVENTS, {}, Reason.user_request), ticket=True)
    replies = TicketReplies(store, Settings(smtp_host="127.0.0.1", smtp_from="support@shop.test"))
    replies.reply(h.id, "ana", "Your parcel is on its way.")
    assert len(MailOutbox(store.engine).queue.rows()) == 1
    done = Retention(store.engine, store.engine).forget_email("jo@example.com")
    assert (done.handoffs, done.email_replies) == (1, 1)
    assert MailOutbox(store.engine).queue.rows() == []
