"""Faults in ``make cluster``'s topology (bot/apps/cluster.py), all real servers on loopback: a Rasa
node killed with SIGKILL while an agent is chatting with a customer through nginx."""

import dataclasses
import queue
import time

import httpx
import pytest
import socketio

from bot.db import engine
from bot.handoff.store import HandoffStore
from tests.e2e.conftest import E2E_PORT, e2e_settings  # noqa: F401 (the fixture)
from tests.e2e.test_handoff import SocketCustomer, console, handoff_of

# The shared cluster (tests/cluster/conftest.py): nginx on SUPPORTBOT_E2E_PORT+20
LB = E2E_PORT + 20


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster; the node this module kills is started again afterwards for the next module."""
    yield shared_cluster
    for node in shared_cluster.nodes:
        if node.procs["rasa"].poll() is not None:
            node.start_rasa()


class Balanced:
    """The load balancer, addressed as the test helpers address one server."""

    def __init__(self, cluster):
        self.settings = dataclasses.replace(cluster.nodes[0].settings, rasa_port=LB)


def node_holding_sockets(cluster):
    """The node nginx sends this address's socket.io sessions to (ip_hash): the one that knows a
    session opened through nginx; the other answers 400 for it."""
    opened = httpx.get(cluster.url + "/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    sid = opened.text[1:].split('"sid":"')[1].split('"')[0]

    def knows(node):
        try:
            return httpx.post(f"http://127.0.0.1:{node.settings.rasa_port}/socket.io/", content="3", timeout=10,
                              params={"EIO": "4", "transport": "polling", "sid": sid}).status_code == 200
        except httpx.ConnectError:  # a node that is down knows nothing
            return False

    known = [n for n in cluster.nodes if knows(n)]
    assert len(known) == 1, "exactly one node should hold a socket.io session"
    return known[0]


def reconnect(lb, session_id, token, seconds=30.0):
    """The widget's reconnect: the same conversation and token, through nginx, until a node answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return SocketCustomer(lb, session_id, token=token)
        except (socketio.exceptions.ConnectionError, TimeoutError, queue.Empty):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def customer_texts(agent, hid):
    return [m["text"] for m in agent.get(f"/handoffs/{hid}").json()["messages"] if m["role"] == "customer"]


def test_kill_9_a_rasa_node_during_an_assigned_handoff_the_customer_carries_on_through_the_other(cluster):
    lb = Balanced(cluster)
    agent = console(lb)
    customer = SocketCustomer(lb)
    sender = customer.session_id
    victim = node_holding_sockets(cluster)
    survivor = next(n for n in cluster.nodes if n is not victim)
    try:
        customer.say("I want to talk to a real person")
        assert customer.next()["text"].startswith("Connecting you to a person")
        hid = handoff_of(agent, sender)["id"]
        assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
        assert agent.post(f"/handoffs/{hid}/messages", json={"text": "Hi, Ana here."}).status_code == 200
        joined = [customer.next()["text"] for _ in range(2)]
        assert joined == ["ana has joined the conversation.", "Hi, Ana here."]
        customer.say("my parcel is two weeks late")
        deadline = time.monotonic() + 10
        while "my parcel is two weeks late" not in customer_texts(agent, hid) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        customer.close()

    victim.procs["rasa"].kill()  # SIGKILL: no shutdown, no goodbye to Redis or the sockets
    victim.procs["rasa"].wait(timeout=10)

    started = time.monotonic()
    back = reconnect(lb, sender, customer.token)
    reconnected_in = time.monotonic() - started
    try:
        assert node_holding_sockets(cluster) is survivor
        back.say("are you still there?")
        deadline = time.monotonic() + 15
        while "are you still there?" not in customer_texts(agent, hid) and time.monotonic() < deadline:
            time.sleep(0.2)
        # the console: the hand-off's messages from before and after the kill, none lost
        assert customer_texts(agent, hid) == ["my parcel is two weeks late", "are you still there?"]
        handoff = HandoffStore.from_url(cluster.postgres_url).get(hid)
        assert handoff.agent == "ana" and handoff.state == "assigned", handoff
        # the agent's next message reaches the customer, now on the other node
        assert agent.post(f"/handoffs/{hid}/messages", json={"text": "Still here."}).status_code == 200
        assert back.next(timeout=5)["text"] == "Still here."
    finally:
        back.close()
    with engine(cluster.postgres_url).connect() as conn:
        users = [r[0] for r in conn.exec_driver_sql(
            "SELECT data::json->>'text' FROM events WHERE sender_id = %s AND type_name = 'user' ORDER BY id",
            (sender,)).all()]
    assert users == ["I want to talk to a real person", "my parcel is two weeks late", "are you still there?"]
    print(f"reconnected through nginx to the other node in {reconnected_in:.1f} s")
    agent.post(f"/handoffs/{hid}/resolve")
