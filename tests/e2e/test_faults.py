"""A crash of the Rasa server or of the action server, during a queued and during an assigned
hand-off, loses no message and no hand-off; the supervisor's watcher brings the server back.

Each test runs its own bot (``Servers`` on its own ports, databases and index; the watcher in a
thread, as ``supportbot run`` does), opens a queued hand-off (Q) and an assigned one (A, claimed by
an agent through the console API), then ``kill -9`` one server and keeps talking.

What "nothing lost" means, honestly, for each server:

- **Action server down** (restarted after ``DOWN_S``; the test checks it really was down
  throughout): every customer message and agent message is accepted at once (they never touch the
  action server). A new request for a person is stored (by the Rasa process,
  ``bot/rasa/fallback.py``) with its transcript and the customer is told they are queued;
  frustration still gets the offer of a person; an FAQ question gets the honest "can't look up
  answers right now"; a hand-off resolved meanwhile still asks the customer for a rating.
- **Rasa down**: nothing can be accepted, since the REST channel and the console live in that
  process. A message sent meanwhile fails at the HTTP level (connection refused: never received)
  and the client sends it again until it is accepted, as the widget and the console do. "Not lost"
  then means: every message the client sent is in the hand-off store exactly once once accepted,
  nothing accepted before the crash is missing, and the customer receives every agent message.

After recovery, in both cases: the hand-off store and the console transcript hold every customer
message of Q and A and every agent message of A, each exactly once and in order; the customer of A
receives every agent message exactly once (in the replies to their messages or by poll); the
hand-offs are still queued/assigned; the bot answers FAQs again.
"""

import os
import signal
import threading
import time
from dataclasses import replace

import httpx
import pytest

from bot.apps.restarts import RestartPolicy
from bot.apps.supervisor import Servers
from bot.apps.training import train_if_needed
from bot.handoff import messages
from bot.handoff.store import HandoffStore
from bot.kb.corpus import load_corpus
from bot.kb.ops import build
from bot.staff.accounts import StaffStore
from bot.staff.passwords import hash_password
from tests.e2e.test_handoff import PASSWORD, handoff_of, poll, texts, waiting_customer
from tests.e2e.test_rest_conversations import conversation, say
from tests.helpers import seed_index

DOWN_S = 6.0  # the first restart waits this long, so "while it is down" is certain
RECOVERY_S = 240  # Rasa loads its model and TensorFlow again: ~30-60 s on 2 busy cores


@pytest.fixture(scope="module")
def bot(e2e_settings, real_encoder, index_seed, tmp_path_factory):
    """A bot of its own and its watcher; yields (servers, hand-off store, watcher errors)."""
    work = tmp_path_factory.mktemp("faults")
    settings = replace(e2e_settings, index_dir=work / "kb_index", tracker_db=str(work / "tracker.db"),
                       handoff_db=str(work / "handoff.db"),  # ports: SUPPORTBOT_E2E_PORT + 2, + 52, + 56
                       rasa_port=e2e_settings.rasa_port + 2, action_port=e2e_settings.action_port + 2,
                       editor_port=e2e_settings.editor_port + 2)
    build(load_corpus(settings.corpus_path), seed_index(index_seed, settings.index_path), real_encoder)
    train_if_needed(settings)
    servers = Servers(settings, log_dir=work / "logs", policy=RestartPolicy(first_s=DOWN_S, cap_s=DOWN_S))
    store = HandoffStore.from_url(settings.handoff_db_url)
    StaffStore(store.engine).add_agent("ana", hash_password(PASSWORD))
    stop, errors = threading.Event(), []

    def watch():
        try:
            servers.watch(stop, interval=0.2)
        except Exception as exc:  # the test fails on it
            errors.append(exc)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        servers.start()
        watcher.start()
        yield servers, store, errors
    finally:
        stop.set()
        watcher.join(10)
        servers.stop()


def up(url):
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def health_url(servers, name):
    s = servers.settings
    return servers.action_url + "/health" if name == "actions" else f"http://{s.host}:{s.rasa_port}/"


def kill(servers, name):
    proc = servers.procs[name]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert not up(health_url(servers, name))
    return proc.pid


def wait_until_back(servers, name, old_pid, errors):
    deadline = time.monotonic() + RECOVERY_S
    while time.monotonic() < deadline and not errors:
        if servers.procs[name].pid != old_pid and up(health_url(servers, name)):
            return
        time.sleep(0.5)
    pytest.fail(f"{name} did not come back within {RECOVERY_S} s: {errors}; see {servers.log_dir}")


def accepted(send, attempts):
    """``send()`` until the server takes it: a refused connection was never received."""
    deadline = time.monotonic() + RECOVERY_S
    while True:
        try:
            return send()
        except httpx.TransportError:
            attempts.append("refused")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Talk:
    """A queued hand-off Q and an assigned one A, and every message sent in them and received."""

    def __init__(self, servers):
        self.servers = servers
        _, self.q, self.q_id = waiting_customer(servers, "agent please", claim=False)
        self.agent, self.a, self.a_id = waiting_customer(servers, "I want to talk to a real person")
        self.sent = {self.q: ["agent please"], self.a: ["I want to talk to a real person"]}
        self.agent_sent: list[str] = []
        self.received: list[dict] = []  # what the customer of A got from the agent
        self.refused: list[str] = []

    def customer(self, sender, text):
        replies = accepted(lambda: say(self.servers, sender, text), self.refused)
        self.sent[sender].append(text)
        if sender == self.a:
            self.received += replies
        else:
            assert replies == []  # a queued hand-off: the bot is paused, nobody has written yet

    def agent_says(self, text):
        r = accepted(lambda: self.agent.post(f"/handoffs/{self.a_id}/messages", json={"text": text}),
                     self.refused)
        assert r.status_code == 200, r.text
        self.agent_sent.append(text)

    def check_nothing_lost(self, store):
        self.received += poll(self.servers, self.a)
        from_agent = [m["text"] for m in self.received if (m.get("custom") or {}).get("from") == "agent"]
        assert from_agent == self.agent_sent  # each exactly once, in order
        for hid, sender in ((self.q_id, self.q), (self.a_id, self.a)):
            stored = [(m.role, m.text) for m in store.messages(hid)]
            assert [t for r, t in stored if r == "customer"] == self.sent[sender][1:]  # the first opened it
            assert [t for r, t in stored if r == "agent"] == (self.agent_sent if hid == self.a_id else [])
            console_view = self.agent.get(f"/handoffs/{hid}").json()
            assert [(m["role"], m["text"]) for m in console_view["messages"]] == stored
            assert console_view["transcript"][-1]["text"] == self.sent[sender][0]
        assert (store.get(self.q_id).state, store.get(self.a_id).state) == ("queued", "assigned")

    def close(self):
        self.agent.post(f"/handoffs/{self.a_id}/resolve")
        self.agent.post(f"/handoffs/{self.q_id}/abandon")


def test_an_action_server_crash_loses_no_message_and_no_handoff(bot):
    servers, store, errors = bot
    talk = Talk(servers)
    other = waiting_customer(servers, "can I speak to a real person")  # resolved while the server is down
    old = kill(servers, "actions")
    talk.customer(talk.q, "hello? is anyone there?")
    talk.customer(talk.a, "my order number is 12345")
    talk.agent_says("Thanks, looking it up now.")
    talk.customer(talk.a, "it was a blue jacket")

    new = conversation()
    say(servers, new, "hello")
    reply = texts(say(servers, new, "I want to talk to a person"))
    assert reply and reply[0].startswith("Connecting you to a person")  # an agent is online: live, queued
    h = store.active_for(new)
    assert h is not None and h.state == "queued" and h.reason == "user_request"
    assert [line.text for line in h.packet.transcript][-1] == "I want to talk to a person"
    assert handoff_of(talk.agent, new)["id"] == h.id  # the agent sees it in the queue

    asker = conversation()
    assert texts(say(servers, asker, "how long do refunds take?")) == [
        "Sorry, I can't look up answers right now. Please try again in a few minutes, or ask for a person "
        "and our support team will help you."]
    assert texts(say(servers, conversation(), "this is useless")) == [
        "Shall I connect you with a person from our support team?"]
    agent, sender, hid = other
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200
    back = [m["text"] for m in poll(servers, sender)]
    assert back[-1] == messages.BACK_RESOLVED
    assert not up(health_url(servers, "actions"))  # all of that while the action server was down
    assert talk.refused == []

    wait_until_back(servers, "actions", old, errors)
    talk.customer(talk.q, "still waiting")
    talk.agent_says("Found it: it ships tomorrow.")
    talk.customer(talk.a, "great, thanks")
    talk.check_nothing_lost(store)
    assert "3 business days" in texts(say(servers, asker, "how long do refunds take?"))[0]
    assert errors == []
    log = (servers.log_dir / "actions.log").read_text()
    assert "the action server exited with code -9" in log and "the action server restarted" in log
    talk.close()


def test_a_rasa_crash_loses_no_message_and_no_handoff(bot):
    servers, store, errors = bot
    talk = Talk(servers)
    talk.customer(talk.a, "before the crash")
    talk.agent_says("Hi, Ana here.")
    old = kill(servers, "rasa")
    # sent while Rasa is down: refused, sent again until Rasa is back and takes them
    talk.customer(talk.q, "hello? is anyone there?")
    assert talk.refused, "Rasa was meant to be down"
    talk.customer(talk.a, "my order number is 12345")
    talk.agent_says("Thanks, looking it up now.")
    wait_until_back(servers, "rasa", old, errors)
    talk.customer(talk.a, "it was a blue jacket")
    talk.agent_says("Found it: it ships tomorrow.")
    talk.customer(talk.q, "still waiting")
    talk.check_nothing_lost(store)
    assert "3 business days" in texts(say(servers, conversation(), "how long do refunds take?"))[0]
    assert errors == []
    log = (servers.log_dir / "rasa.log").read_text()
    assert "the Rasa server exited with code -9" in log and "the Rasa server restarted" in log
    talk.close()
