"""Redis stopped mid-conversation and started again under ``make cluster``'s topology (real PostgreSQL,
Redis, nginx, 2 Rasa + 2 action servers on loopback). Redis keeps nothing on disk here, so it comes
back empty: no locks, no presence, no rate counts.

What customers and agents get, as decided (docs/operators.md, "Failures"):
- during the outage turns are still answered on every node: each node falls back to its own lock per
  conversation (fail open across nodes, still one turn at a time per node; a socket.io customer's
  turns all go to one node), and counts message rates alone;
- an agent's message to a customer on another node is accepted and kept for them (the stored feed),
  the console shows every customer message;
- once Redis is back the node holding the customer's socket subscribes again within seconds, registers
  its sockets again and hands over what was kept; the lock is taken in Redis again.
"""

import threading
import time

import redis

from bot.cluster.lock import PREFIX
from bot.rasa.lock_store import LOCAL_FOR_S
from tests.cluster.checks import user_rows, wait_for
from tests.e2e.conftest import e2e_settings  # noqa: F401 (the fixture)
from tests.e2e.test_handoff import SocketCustomer, console, handoff_of
from tests.e2e.test_rest_conversations import conversation, say, send


def texts(replies):
    return [r["text"] for r in replies if r.get("text")]


def customer_texts(agent, hid):
    return [m["text"] for m in agent.get(f"/handoffs/{hid}").json()["messages"] if m["role"] == "customer"]


def test_redis_stopped_mid_conversation_turns_go_on_and_everything_is_back_after_restart(shared_cluster):
    c = shared_cluster
    a, b = c.nodes
    agent = console(a)  # the agent's console on node A, the customer's socket on node B
    rest = conversation()  # a second customer, on REST, whose turns alternate between the nodes
    assert texts(say(a, rest, "hello")) and texts(say(b, rest, "where is my order?"))
    customer = SocketCustomer(b)
    sender = customer.session_id
    try:
        customer.say("I want to talk to a real person")
        assert customer.next()["text"].startswith("Connecting you to a person")
        hid = handoff_of(agent, sender)["id"]
        assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
        assert customer.next()["text"] == "ana has joined the conversation."

        c.redis.stop()
        down = time.monotonic()
        # customers: every turn answered, on both nodes
        for node, text in ((a, "how do I return an item?"), (b, "do you ship to canada?")):
            started = time.monotonic()
            r = send(node, rest, text)
            assert r.status_code == 200 and texts(r.json()), (r.status_code, r.text)
            assert time.monotonic() - started < 5
        customer.say("my parcel is two weeks late")
        wait_for(lambda: "my parcel is two weeks late" in customer_texts(agent, hid), 10,
                 "the customer's message in the console")
        # the agent on node A cannot know whether node B holds the customer: accepted, kept for them
        r = agent.post(f"/handoffs/{hid}/messages", json={"text": "Sorry, checking now."})
        assert r.status_code == 200, r.text
        # a new customer still gets a conversation
        newcomer = SocketCustomer(a)
        assert newcomer.session_id
        newcomer.close()
        # 8 s or more: python-socketio's own manager would now wait 8 s before subscribing again
        time.sleep(max(0.0, down + 8 - time.monotonic()))
        outage = time.monotonic() - down

        c.redis.start()
        back = time.monotonic()
        # what was kept reaches the customer still connected to node B, and new messages go live
        assert customer.next(timeout=20)["text"] == "Sorry, checking now."
        handed_over = time.monotonic() - back
        assert agent.post(f"/handoffs/{hid}/messages", json={"text": "Found it."}).status_code == 200
        assert customer.next(timeout=2)["text"] == "Found it."
        live_again = time.monotonic() - back
        customer.say("thanks!")
        wait_for(lambda: "thanks!" in customer_texts(agent, hid), 10, "the customer's message after")
    finally:
        customer.close()
        if c.redis.proc is None or c.redis.proc.poll() is not None:  # failed during the outage: the
            c.redis.start()  # shared cluster's next tests need it

    # turns alternate across the nodes again, with the conversation's state kept
    assert texts(say(a, rest, "hello")) and texts(say(b, rest, "where is my order?"))

    # the lock is in force again: a turn waits while someone else holds the conversation in Redis
    time.sleep(max(0.0, back + LOCAL_FOR_S - time.monotonic()))
    client = redis.Redis.from_url(c.redis_url)
    assert client.set(PREFIX + rest, "held-by-the-test", nx=True, px=3000)
    done = {}
    started = time.monotonic()
    turn = threading.Thread(target=lambda: done.update(r=send(a, rest, "hello"), t=time.monotonic()))
    turn.start()
    turn.join(timeout=30)
    assert done["r"].status_code == 200
    waited = done["t"] - started
    assert waited > 2.5, f"the turn ran after {waited:.1f} s, while the test held the conversation's lock"

    # nothing lost: every message of both customers is in the tracker store and the console
    assert user_rows(c, rest) == ["hello", "where is my order?", "how do I return an item?",
                                  "do you ship to canada?", "hello", "where is my order?", "hello"]
    assert user_rows(c, sender) == ["I want to talk to a real person", "my parcel is two weeks late", "thanks!"]
    assert customer_texts(agent, hid) == ["my parcel is two weeks late", "thanks!"]
    print(f"Redis down {outage:.1f} s; after its restart the kept agent message reached the customer in "
          f"{handed_over:.1f} s, a new one live in {live_again:.1f} s; the lock held a turn {waited:.1f} s")
    agent.post(f"/handoffs/{hid}/resolve")
    assert client.exists(PREFIX + rest) == 0
