"""Two nodes behind nginx on one PostgreSQL and one Redis (``make cluster``'s topology, bot/apps/cluster.py),
as customers and agents use them: each test picks the node each request goes to."""

import shutil
import subprocess
import threading
import time

import httpx
import pytest

from bot.cluster.local import wait_for_port
from bot.db import engine
from bot.handoff.store import HandoffStore
from tests.deploy_files import DEPLOY, on_loopback
from tests.e2e.conftest import E2E_PORT, e2e_settings  # noqa: F401 (the fixture)
from tests.e2e.test_handoff import SocketCustomer, console, handoff_of
from tests.e2e.test_rest_conversations import conversation, say

# From SUPPORTBOT_E2E_PORT (P): nginx P+20, Rasa P+21.., action servers P+31.., the editor P+35
LB, RASA, ACTIONS, EDITOR = E2E_PORT + 20, E2E_PORT + 21, E2E_PORT + 31, E2E_PORT + 35


@pytest.fixture(scope="module")
def cluster(shared_cluster):  # tests/cluster/conftest.py: on LB, RASA, ACTIONS, EDITOR
    return shared_cluster


@pytest.fixture(scope="module")
def deployed_nginx(cluster, tmp_path_factory):
    """deploy/nginx/nginx.conf itself in front of the two nodes, the action servers and the editor
    (their names -> ports; its action servers' side on P+36)."""
    folder, port = tmp_path_factory.mktemp("deployed-nginx"), E2E_PORT + 30
    conf = on_loopback((DEPLOY / "nginx" / "nginx.conf").read_text(),
                       {"rasa-0.rasa": RASA, "rasa-1.rasa": RASA + 1, "editor": EDITOR,
                        "actions-0.actions": ACTIONS, "actions-1.actions": ACTIONS + 1},
                       listen=port, actions_listen=E2E_PORT + 36)
    (folder / "nginx.conf").write_text(conf)
    proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(folder), "-c",
                             str(folder / "nginx.conf"), "-e", str(folder / "error.log"),
                             "-g", f"daemon off; pid {folder / 'nginx.pid'};"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_port(port, 10, proc), "nginx did not start with deploy/nginx/nginx.conf"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def texts(replies):
    return [r["text"] for r in replies if r.get("text")]


def test_a_conversation_alternating_between_nodes_keeps_its_state(cluster):
    a, b = cluster.nodes
    agent = console(a)  # an agent online: the hand-off is live and pauses the bot
    sender = conversation()
    assert any("Brightcart assistant" in t for t in texts(say(a, sender, "hello")))
    assert texts(say(b, sender, "I want to talk to a real person"))[0].startswith("Connecting you to a person")
    # node A sees the pause node B recorded: the bot stays quiet, the person gets the message
    assert texts(say(a, sender, "are you there?")) == []
    with engine(cluster.postgres_url).connect() as conn:
        rows = conn.exec_driver_sql("SELECT type_name FROM events WHERE sender_id = %s ORDER BY id",
                                    (sender,)).all()
    kinds = [r[0] for r in rows]
    assert kinds.count("user") == 3 and "pause" in kinds
    assert kinds.index("pause") < len(kinds) - 1 - kinds[::-1].index("user")  # paused before the last turn
    agent.post(f"/handoffs/{handoff_of(agent, sender)['id']}/resolve")


def test_turns_through_the_load_balancer_reach_both_nodes_and_keep_the_conversation(cluster):
    class Balanced:  # the load balancer, as the helpers address a server
        settings = cluster.nodes[0].settings
        rest_url = cluster.url + "/webhooks/rest/webhook"

    sender = conversation()
    for n in range(4):
        assert say(Balanced, sender, "hello" if n == 0 else "where is my order?")
    logs = [n.log_path("rasa").read_text() for n in cluster.nodes]
    assert all(log for log in logs)
    with engine(cluster.postgres_url).connect() as conn:
        users = conn.exec_driver_sql("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'",
                                     (sender,)).scalar()
    assert users == 4
    access = (cluster.folder / "nginx" / "access.log").read_text()
    assert access.count("/webhooks/rest/webhook") >= 4


def test_two_agents_on_different_nodes_claiming_one_handoff_exactly_one_wins(cluster):
    a, b = cluster.nodes
    ana, bo = console(a, "ana"), console(b, "bo")
    sender = conversation()
    say(a, sender, "can I speak to a real person")
    hid = handoff_of(bo, sender)["id"]
    barrier, results = threading.Barrier(2), {}

    def claim(name, client):
        barrier.wait()
        results[name] = client.post(f"/handoffs/{hid}/claim")

    threads = [threading.Thread(target=claim, args=x) for x in (("ana", ana), ("bo", bo))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results.values()) == [200, 409]
    winner = HandoffStore.from_url(cluster.postgres_url).get(hid).agent
    (ana if winner == "ana" else bo).post(f"/handoffs/{hid}/resolve")


def test_an_agent_on_node_a_reaches_a_customer_connected_to_node_b_within_a_second(cluster):
    a, b = cluster.nodes
    agent = console(a)
    sender = conversation()
    customer = SocketCustomer(b, sender)
    try:
        customer.say("I want to talk to a real person")
        assert customer.next()["text"].startswith("Connecting you to a person")
        hid = handoff_of(agent, sender)["id"]
        assert agent.post(f"/handoffs/{hid}/claim").status_code == 200
        started = time.perf_counter()
        assert agent.post(f"/handoffs/{hid}/messages", json={"text": "Hi, Ana here."}).status_code == 200
        pushed = [customer.next(timeout=1.0)["text"] for _ in range(2)]
        assert time.perf_counter() - started < 1.0
        assert pushed == ["ana has joined the conversation.", "Hi, Ana here."]
        # pushed live on node B, so nothing waits in the stored feed for a REST poll
        r = httpx.get(f"http://127.0.0.1:{a.settings.rasa_port}/webhooks/rest/poll", params={"sender": sender},
                      headers={"Authorization": f"Bearer {customer.token}"}, timeout=10)
        assert r.status_code == 200 and r.json() == []
        agent.post(f"/handoffs/{hid}/resolve")
    finally:
        customer.close()


@pytest.mark.parametrize("balancer", ["generated", "deployed"])
@pytest.mark.parametrize("path", ["/socket.io/", "/console/socket.io/"])
def test_socket_io_long_polling_through_the_load_balancer_stays_on_the_node_holding_the_socket(
        request, cluster, balancer, path):
    """Customers' sockets and the console's staff socket, through `make cluster`'s nginx and through
    deploy/'s: every request of one Engine.IO session after the handshake must reach the node that
    made it (the other answers 400 for a session it does not know)."""
    base = cluster.url if balancer == "generated" else request.getfixturevalue("deployed_nginx")
    url = base + path
    # as a browser on the page sends them: the console's socket answers its own origin only (host:port)
    with httpx.Client(timeout=10, headers={"Origin": base}) as client:
        opened = client.get(url, params={"EIO": "4", "transport": "polling"})
        assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
        sid = opened.text[1:].split('"sid":"')[1].split('"')[0]
        answers = [client.post(url, params={"EIO": "4", "transport": "polling", "sid": sid}, content="3")
                   for _ in range(6)]  # Engine.IO pongs: harmless, and each names the session
    assert [(a.status_code, a.text) for a in answers] == [(200, "OK")] * 6


def test_the_deployed_nginx_balances_rest_turns_and_serves_the_editor(cluster, deployed_nginx):
    class Balanced:  # deploy/'s load balancer, as the helpers address a server
        settings = cluster.nodes[0].settings
        rest_url = deployed_nginx + "/webhooks/rest/webhook"

    assert httpx.get(deployed_nginx + "/nginx-health").text == "ok\n"
    assert httpx.get(deployed_nginx + "/editor/health").status_code == 200
    sender = conversation()
    for n in range(4):
        assert say(Balanced, sender, "hello" if n == 0 else "where is my order?")
    with engine(cluster.postgres_url).connect() as conn:
        users = conn.exec_driver_sql("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'",
                                     (sender,)).scalar()
    assert users == 4
