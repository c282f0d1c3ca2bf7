"""Draining an outbox while the database comes and goes (bot/events/retry.py), on SQLite."""

import pytest
import sqlalchemy as sa

from bot.events.outbox import Outbox
from bot.events.retry import DeliveryFailed, RetryingSender

pytestmark = pytest.mark.unit


class Recording(RetryingSender):
    kind = "test delivery"

    def __init__(self, queue):
        super().__init__(queue)
        self.sent: list[int] = []
        self.refuse = False

    def attempt(self, row):
        if self.refuse:
            raise DeliveryFailed("receiver down")
        self.sent.append(row["id"])


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(sa.create_engine(f"sqlite:///{tmp_path / 'outbox.db'}"))
    for n in range(3):
        box.enqueue_webhook(f"event-{n}", "http://receiver/hook", {"n": n})
    return box


def test_a_delivery_the_database_missed_is_recorded_later_and_not_sent_again(outbox, monkeypatch):
    sender = Recording(outbox.queue)
    real = outbox.queue.delivered
    away = {"now": True}

    def delivered(row_id):
        if away["now"]:
            raise sa.exc.OperationalError("UPDATE webhook_outbox", {}, Exception("connection closed"))
        real(row_id)

    monkeypatch.setattr(outbox.queue, "delivered", delivered)
    with pytest.raises(sa.exc.OperationalError):  # the database went away after the first send
        sender.deliver_due()
    assert sender.sent == [1]
    with pytest.raises(sa.exc.OperationalError):  # still away: nothing is sent while it is
        sender.deliver_due()
    assert sender.sent == [1]
    away["now"] = False
    assert sender.deliver_due() == 2  # back: the first is recorded, the other two are sent
    assert sender.sent == [1, 2, 3]  # each once
    assert all(row["delivered_at"] is not None for row in outbox.webhook_rows())
    assert sender.deliver_due() == 0 and sender.sent == [1, 2, 3]


def test_a_failed_attempt_is_retried_later(outbox):
    sender = Recording(outbox.queue)
    sender.refuse = True
    assert sender.deliver_due() == 0
    rows = outbox.webhook_rows()
    assert [r["attempts"] for r in rows] == [1, 1, 1] and rows[0]["last_error"] == "receiver down"
    assert outbox.due_webhooks() == []  # backed off
