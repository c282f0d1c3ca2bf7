import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot.delivery.feed import FeedStore
from bot.events.outbox import Outbox
from bot.handoff.packet import Reason, build_packet
from bot.handoff.states import (
    ABANDONED,
    ASSIGNED,
    QUEUED,
    RESOLVED,
    RETURNED_TO_BOT,
    AlreadyRated,
    HandoffNotFound,
    InvalidTransition,
)
from bot.handoff.store import HandoffStore
from bot.staff.accounts import StaffStore
from tests.handoff_events import EVENTS


@pytest.fixture
def store(tmp_path):
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoffs.db'}")


@pytest.fixture
def staff(store):
    return StaffStore(store.engine)


@pytest.fixture
def outbox(store):
    return Outbox(store.engine)


@pytest.fixture
def feed(store):
    return FeedStore(store.engine)


def packet(conversation="conv-1", minutes=0):
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=minutes)
    return build_packet(conversation, EVENTS, {}, Reason.user_request, now=now)


def test_open_stores_the_packet_and_is_idempotent_per_conversation(store):
    h, created = store.open(packet())
    assert created and h.state == QUEUED
    assert h.first_question == "where is my parcel?" and h.customer_email == "jo@example.com"
    assert store.get(h.id).packet == packet()
    again, created = store.open(packet())
    assert not created and again.id == h.id


def test_queue_is_ordered_by_waiting_time_and_reports_positions(store):
    a, _ = store.open(packet("a"))
    b, _ = store.open(packet("b"))
    c, _ = store.open(packet("c"))
    assert [h.conversation_id for h in store.list_handoffs()] == ["a", "b", "c"]
    assert [store.queue_position(x.id) for x in (a, b, c)] == [1, 2, 3]
    store.transition(a.id, ASSIGNED, agent="ana")
    assert [store.queue_position(x.id) for x in (a, b, c)] == [0, 1, 2]


def test_a_live_customers_position_counts_only_live_customers_ahead_not_tickets(store):
    """Issue 19: with two tickets waiting (nobody was online), a new live customer was told
    "you are number 3" and showed as #3. Tickets are answered by email: a queue of their own."""
    t1, _ = store.open(packet("t1"), ticket=True)
    t2, _ = store.open(packet("t2", minutes=1), ticket=True)
    live1, _ = store.open(packet("l1", minutes=2))
    live2, _ = store.open(packet("l2", minutes=3))
    t3, _ = store.open(packet("t3", minutes=4), ticket=True)
    assert [store.queue_position(x.id) for x in (live1, live2)] == [1, 2]
    assert [store.queue_position(x.id) for x in (t1, t2, t3)] == [1, 2, 3]
    store.transition(t1.id, ASSIGNED, agent="ana")  # an agent takes a ticket: no live customer moves
    assert [store.queue_position(x.id) for x in (live1, live2, t2, t3)] == [1, 2, 1, 2]
    store.transition(live1.id, ASSIGNED, agent="bo")
    assert [store.queue_position(x.id) for x in (live1, live2, t2)] == [0, 1, 1]


def test_lifecycle_is_timestamped_and_final_states_are_final(store):
    h, _ = store.open(packet())
    store.transition(h.id, ASSIGNED, agent="ana")
    done = store.transition(h.id, RESOLVED, actor="ana")
    assert done.state == RESOLVED and done.agent == "ana"
    history = store.history(h.id)
    assert [(x["from_state"], x["to_state"]) for x in history] == [
        (None, QUEUED), (QUEUED, ASSIGNED), (ASSIGNED, RESOLVED)]
    assert history[0]["at"] <= history[1]["at"] <= history[2]["at"]
    with pytest.raises(InvalidTransition, match="already resolved; it cannot become resolved"):
        store.transition(h.id, RESOLVED, actor="ana")
    with pytest.raises(InvalidTransition, match="already resolved"):
        store.transition(h.id, ASSIGNED, agent="bo")
    # a new hand-off for the same conversation can open once the old one is final
    new, created = store.open(packet())
    assert created and new.id != h.id


@pytest.mark.parametrize("final", [RETURNED_TO_BOT, ABANDONED])
def test_other_final_states(store, final):
    h, _ = store.open(packet())
    assert store.transition(h.id, final, actor="bot").state == final
    assert store.active_for("conv-1") is None


def test_unknown_ids_raise_clear_errors(store):
    with pytest.raises(HandoffNotFound, match="no hand-off with id 'nope'"):
        store.transition("nope", ASSIGNED, agent="ana")
    with pytest.raises(HandoffNotFound):
        store.get("nope")
    with pytest.raises(HandoffNotFound):
        store.rate("nope", 5)


def test_exactly_one_of_many_concurrent_claimers_wins(store):
    h, _ = store.open(packet())
    start = threading.Barrier(8)
    winners, losers = [], []

    def claim(name):
        start.wait()
        try:
            store.transition(h.id, ASSIGNED, agent=name)
            winners.append(name)
        except InvalidTransition as exc:
            losers.append(str(exc))

    threads = [threading.Thread(target=claim, args=(f"agent{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7
    assert store.get(h.id).agent == winners[0]
    assert all(f"already assigned by {winners[0]}" in msg for msg in losers)


def test_messages_ratings_and_sessions(store, staff):
    h, _ = store.open(packet())
    m1 = store.add_message(h.id, "customer", "<b>hello</b>")
    m2 = store.add_message(h.id, "agent", "Hi, Ana here", author="ana")
    assert [m.text for m in store.messages(h.id)] == ["<b>hello</b>", "Hi, Ana here"]
    assert [m.id for m in store.messages(h.id, after=m1.id)] == [m2.id]
    store.rate(h.id, 4, "quick")
    assert (store.get(h.id).rating, store.get(h.id).rating_comment) == (4, "quick")
    with pytest.raises(ValueError, match="from 1 to 5"):
        store.rate(h.id, 6)
    staff.add_agent("ana", "hash")
    token, csrf = staff.create_session("ana", timedelta(hours=1))
    assert staff.session(token) == ("ana", csrf)
    assert staff.agents_online(timedelta(minutes=1)) == ["ana"]
    staff.end_session(token)
    assert staff.session(token) is None and staff.agents_online(timedelta(minutes=1)) == []
    expired, _ = staff.create_session("ana", timedelta(seconds=-1))
    assert staff.session(expired) is None


def test_a_handoff_is_rated_once_and_keeps_only_a_real_email_address(store):
    h, _ = store.open(packet())
    for bad in (0, 6, True, 4.5, "4"):
        with pytest.raises(ValueError, match="whole number from 1 to 5"):
            store.rate(h.id, bad)
    store.rate(h.id, 5, "great")
    for again in ((1, None), (5, "great"), (2, "changed my mind")):
        with pytest.raises(AlreadyRated, match="already rated \\(5\\); a hand-off is rated once"):
            store.rate(h.id, *again)
    assert (store.get(h.id).rating, store.get(h.id).rating_comment) == (5, "great")
    with pytest.raises(HandoffNotFound):
        store.rate("nope", 3)
    for bad in ("<img src=x onerror=alert(3)>", "jo..doe@example.com", ""):
        with pytest.raises(ValueError, match="not an email address"):
            store.set_customer_email(h.id, bad)
    assert store.get(h.id).customer_email == "jo@example.com"
    store.set_customer_email(h.id, "jo.doe@example.org")
    assert store.get(h.id).customer_email == "jo.doe@example.org"
    with pytest.raises(HandoffNotFound):
        store.set_customer_email("nope", "jo.doe@example.org")


def test_webhook_outbox_is_idempotent_per_key_and_receiver(outbox):
    outbox.enqueue_webhook("k1", "http://a", {"x": 1})
    outbox.enqueue_webhook("k1", "http://a", {"x": 1})
    outbox.enqueue_webhook("k1", "http://b", {"x": 1})
    assert len(outbox.due_webhooks()) == 2
    first = outbox.due_webhooks()[0]
    outbox.webhook_failed(first["id"], "500", datetime.now(timezone.utc) + timedelta(minutes=1))
    assert [r["url"] for r in outbox.due_webhooks()] == ["http://b"]
    outbox.webhook_delivered(outbox.due_webhooks()[0]["id"])
    assert outbox.due_webhooks() == []


def test_customer_feed_is_delivered_once_in_order_and_per_conversation(feed):
    assert feed.feed_take("c1") == []
    feed.feed_push("c1", {"text": "Hi, Ana here"})
    feed.feed_push("c2", {"text": "for someone else"})
    feed.feed_push("c1", {"text": "Let me check"})
    assert feed.feed_take("c1") == [{"text": "Hi, Ana here"}, {"text": "Let me check"}]
    assert feed.feed_take("c1") == []
    feed.feed_push("c1", {"text": "Found it"})
    assert feed.feed_take("c1") == [{"text": "Found it"}]
    assert feed.feed_take("c2") == [{"text": "for someone else"}]


def test_customer_feed_taken_concurrently_is_delivered_exactly_once(feed):
    for n in range(20):
        feed.feed_push("c1", {"n": n})
    taken: list = []
    threads = [threading.Thread(target=lambda: taken.extend(feed.feed_take("c1"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["n"] for m in taken) == list(range(20))
