"""Pushes to a customer are kept until their client has them: a live push carries its feed row id
(``delivery_id``), a socket.io client acknowledges it, and what was pushed but never acknowledged (a
connection that dropped as it was sent, a dead node still counted as holding the socket) is sent
again on reconnection."""

import asyncio

import sqlalchemy as sa

from bot.delivery import Delivery
from bot.delivery.feed import FeedStore


def feed(tmp_path) -> FeedStore:
    return FeedStore(sa.create_engine(f"sqlite:///{tmp_path / 'feed.db'}"))


def test_a_live_push_carries_its_row_and_stays_pending_until_acknowledged(tmp_path):
    store = feed(tmp_path)
    delivery, pushed = Delivery(store), []

    async def connected(conversation_id, payload):
        pushed.append(payload)
        return True  # emitted; whether it arrives only the client's acknowledgement says

    delivery.add_pusher(connected)
    asyncio.run(delivery.deliver({"recipient_id": "c1", "text": "Hi, Ana here"}))
    asyncio.run(delivery.deliver({"recipient_id": "c1", "text": "Let me check"}))
    first, second = (p["delivery_id"] for p in pushed)
    assert [p["text"] for p in pushed] == ["Hi, Ana here", "Let me check"]
    # the connection dropped before either arrived: a reconnection gets both again, in order
    assert [(p["delivery_id"], p["text"]) for p in delivery.pending("c1")] == [
        (first, "Hi, Ana here"), (second, "Let me check")]
    assert delivery.acknowledged("c1", [first]) == 1
    assert [p["text"] for p in delivery.pending("c1")] == ["Let me check"]
    assert delivery.acknowledged("c1", [first]) == 0  # twice is harmless
    assert delivery.acknowledged("c1", [second]) == 1
    assert delivery.pending("c1") == [] and delivery.take("c1") == []


def test_an_acknowledgement_marks_only_its_own_conversations_messages(tmp_path):
    store = feed(tmp_path)
    mine = store.feed_push("c1", {"text": "for c1"})
    theirs = store.feed_push("c2", {"text": "for c2"})
    assert store.feed_ack("c1", [mine, theirs]) == 1  # c2's row is not c1's to acknowledge
    assert [payload for _, payload in store.feed_pending("c2")] == [{"text": "for c2"}]
    assert store.feed_pending("c1") == []
    assert store.feed_ack("c1", []) == 0


def test_a_customer_connected_nowhere_gets_it_on_their_next_request(tmp_path):
    store = feed(tmp_path)
    delivery = Delivery(store)

    async def nowhere(conversation_id, payload):
        return False

    delivery.add_pusher(nowhere)
    asyncio.run(delivery.deliver({"recipient_id": "c1", "text": "Your refund is on its way."}))
    assert delivery.take("c1") == [{"recipient_id": "c1", "text": "Your refund is on its way."}]
    assert delivery.take("c1") == [] and delivery.pending("c1") == []
