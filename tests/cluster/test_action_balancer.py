"""The action servers behind nginx (``make cluster``, bot/apps/cluster.py): every Rasa node calls its
actions through nginx's action port, so a dead action server costs no answers on any node."""

import httpx
import pytest

from tests.e2e.conftest import e2e_settings  # noqa: F401 (the fixture)
from tests.e2e.test_rest_conversations import conversation, say


@pytest.fixture(scope="module")
def cluster(shared_cluster):  # tests/cluster/conftest.py
    return shared_cluster


def refund_answers(node, times):
    """FAQ turns sent straight to one Rasa node: how many got the refund entry's answer."""
    answered = 0
    for _ in range(times):
        replies = say(node, conversation(), "how long does it take to get my refund?")
        answered += any("3 business days" in (r.get("text") or "") for r in replies)
    return answered


def test_the_rasa_nodes_call_their_actions_through_nginx(cluster):
    lb = cluster.action_lb_port
    assert {n.settings.action_url for n in cluster.nodes} == {f"http://127.0.0.1:{lb}"}
    conf = (cluster.folder / "nginx" / "nginx.conf").read_text()
    for a in cluster.actions:
        assert f"server 127.0.0.1:{a.settings.action_port} " in conf


def test_the_start_up_build_is_published_and_both_action_servers_serve_it(cluster):
    from bot.kb.index import serving_name
    from bot.kb.shared import SharedIndex
    from bot.keys import action_server_token

    shared = SharedIndex.from_settings(cluster.actions[0].settings)
    pointer = shared.pointer()
    assert pointer is not None  # before: no pointer until the first 'kb build' or editor publish
    assert pointer.name == serving_name(cluster.settings.index_path)  # the start-up build's version
    for a in cluster.actions:
        r = httpx.post(f"{a.action_url}/reload", timeout=30,
                       headers={"Authorization": f"Bearer {action_server_token(a.settings)}"})
        assert r.status_code == 200 and r.json() == {"serving": pointer.name, "error": None}, r.text
    assert shared.local() == pointer  # kb_index/SHARED: this folder holds what the pointer names


def test_one_conversations_prefetch_and_actions_go_to_one_action_server(cluster):
    """nginx picks the action server by the conversation's key (bot/rasa/routing.py), so the FAQ
    action runs where its message was prefetched; different conversations use both servers."""
    log = cluster.folder / "nginx" / "actions.log"
    seen = log.stat().st_size if log.exists() else 0
    for n in range(12):
        node = cluster.nodes[n % 2]
        c = conversation()
        say(node, c, "how long does it take to get my refund?")
        say(cluster.nodes[(n + 1) % 2], c, "do you ship to canada?")  # the other Rasa node, same server
    with log.open() as f:
        f.seek(seen)
        lines = [dict(part.split("=", 1) for part in line.split() if "=" in part) | {"uri": line.split()[2]}
                 for line in f if " key=" in line]
    by_key: dict[str, set[str]] = {}
    for line in lines:
        if line["key"] and line["key"] != "-":
            by_key.setdefault(line["key"], set()).add(line["upstream"])
    uris = {(line["uri"], bool(line["key"] and line["key"] != "-")) for line in lines}
    assert ("/prefetch", True) in uris and ("/webhook", True) in uris, uris
    assert len(by_key) == 12, by_key
    assert all(len(upstreams) == 1 for upstreams in by_key.values()), by_key
    assert len(set().union(*by_key.values())) == 2, "every conversation went to one action server"


def test_with_one_action_server_killed_faq_turns_through_both_rasa_nodes_are_answered(cluster):
    for node in cluster.nodes:
        assert refund_answers(node, 2) == 2
    victim = cluster.actions[0]
    victim.procs["actions"].kill()  # SIGKILL, and nobody restarts it (the test does not watch)
    victim.procs["actions"].wait(timeout=10)
    try:
        for node in cluster.nodes:  # nginx sends each call to the surviving action server
            assert refund_answers(node, 4) == 4, node.log_path("rasa")
        log = (cluster.folder / "nginx" / "error.log").read_text()
        assert f"127.0.0.1:{victim.settings.action_port}" in log  # nginx did try the dead one
    finally:
        victim.start_actions()  # the next test finds the full topology
