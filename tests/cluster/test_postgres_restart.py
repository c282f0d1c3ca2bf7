"""PostgreSQL stopped mid-conversation and started again under ``make cluster``'s topology (real
PostgreSQL, Redis, nginx, 2 Rasa + 2 action servers + 2 workers on loopback). PostgreSQL holds the
tracker store, the hand-offs, staff sessions, the stored feed and the webhook outbox.

As decided (docs/operators.md, "Failures"):
- during the outage a customer's turn fails at once and says so: REST answers 503 with Retry-After
  and "send it again", a socket.io customer gets an ``error`` event; never a 200 with nothing (Rasa's
  channel), never a turn run on an empty in-memory conversation (Rasa's fail-safe tracker store);
- once PostgreSQL is back every pool reconnects (pre-ping): the first turn on each node is answered,
  a hand-off claim works, and a webhook queued before the outage is delivered once.
"""

import time

from tests.cluster.checks import user_rows, wait_for
from tests.e2e.conftest import e2e_settings  # noqa: F401 (the fixture)
from tests.e2e.test_handoff import SocketCustomer, console, handoff_of
from tests.e2e.test_rest_conversations import conversation, say, send


def texts(replies):
    return [r["text"] for r in replies if r.get("text")]


def test_postgres_stopped_mid_conversation_turns_fail_cleanly_and_all_works_after_restart(shared_cluster,
                                                                                           webhooks):
    c = shared_cluster
    a, b = c.nodes
    rest = conversation()  # a REST customer whose turns alternate between the nodes
    assert texts(say(a, rest, "hello")) and texts(say(b, rest, "where is my order?"))
    customer = SocketCustomer(a)  # a socket.io customer, connected before the outage
    try:
        customer.say("hello")
        assert customer.next()["text"]
        # a hand-off whose webhook is queued before the outage: the receiver refuses it for now
        webhooks.accepting = False
        waiting = conversation()
        assert texts(say(a, waiting, "I want to talk to a real person"))
        hid = handoff_of(console(a), waiting)["id"]
        key = f"{hid}:handoff.created"
        wait_for(lambda: webhooks.refused(key) >= 1, 15, "a first, refused, delivery of the webhook")

        c.postgres.stop()
        down = time.monotonic()
        webhooks.accepting = True
        # a REST turn fails at once and says to send it again
        started = time.monotonic()
        r = send(a, rest, "how do I return an item?")
        rest_failed_in = time.monotonic() - started
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.json()["field"] == "message" and "send it again" in r.json()["error"]
        assert int(r.headers["Retry-After"]) > 0
        assert rest_failed_in < 10
        # the socket.io customer is told too, instead of silence
        customer.say("do you ship to canada?")
        error = customer.errors.get(timeout=15)
        assert error["field"] == "message" and "send it again" in error["error"], error
        # a new customer still gets a conversation (its first turn fails the same way until the end)
        newcomer = SocketCustomer(b)
        assert newcomer.session_id
        newcomer.close()
        outage = time.monotonic() - down

        c.postgres.start()
        back = time.monotonic()
        # the first turn on each node after the restart is answered (the pools reconnect)
        assert texts(say(b, rest, "how do I return an item?"))
        assert texts(say(a, rest, "do you ship to canada?"))
        first_turns = time.monotonic() - back
        customer.say("do you ship to canada?")
        assert customer.next(timeout=15)["text"]
    finally:
        customer.close()
        if c.postgres.proc is None:  # failed during the outage: the shared cluster's next tests need it
            c.postgres.start()

    # a hand-off claim works, from the console of the node that did not serve the hand-off
    agent = console(b)
    assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
    # the webhook queued before the outage is delivered, once
    delivered = wait_for(lambda: webhooks.accepted(key) >= 1, 30, "the queued webhook's delivery") - back
    time.sleep(3)  # both nodes' workers had their rounds since: no second delivery
    assert webhooks.accepted(key) == 1
    # nothing lost: each turn the customer was told failed was sent again, and is stored once
    assert user_rows(c, rest) == ["hello", "where is my order?", "how do I return an item?",
                                  "do you ship to canada?"]
    assert user_rows(c, customer.session_id) == ["hello", "do you ship to canada?"]
    print(f"PostgreSQL down {outage:.1f} s: a REST turn failed in {rest_failed_in:.2f} s with 503; after "
          f"its restart both nodes answered in {first_turns:.1f} s, the queued webhook was delivered "
          f"{delivered:.1f} s after")
    agent.post(f"/handoffs/{hid}/resolve")
