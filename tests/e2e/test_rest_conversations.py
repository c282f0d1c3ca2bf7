"""The real Rasa server and action server, talked to over REST like a customer would."""

import concurrent.futures
import json
import sqlite3
import subprocess
import time
import uuid
from dataclasses import replace

import httpx
import pytest
import sqlalchemy as sa

from bot.access.conversations import token_for
from bot.apps.environment import process_env
from bot.apps.supervisor import Servers
from bot.apps.training import rasa_bin
from bot.handoff.store import HandoffStore
from bot.kb.corpus import load_corpus
from bot.kb.ops import build
from bot.keys import action_server_token


def auth(servers, sender):
    """The header a client holding ``sender``'s token sends (tests sign ids as the server would)."""
    return {"Authorization": f"Bearer {token_for(servers.settings, sender)}"}


def send(servers, sender, text):
    return httpx.post(servers.rest_url, json={"sender": sender, "message": text}, headers=auth(servers, sender),
                      timeout=30)


def say(servers, sender, text):
    r = send(servers, sender, text)
    assert r.status_code == 200, r.text
    return r.json()


def conversation():
    return f"test-{uuid.uuid4().hex[:8]}"


def tracker(servers, sender):
    db = sqlite3.connect(servers.settings.tracker_db)
    rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id",
                      (sender,)).fetchall()
    return [(t, json.loads(d)) for t, d in rows]


def test_faq_question_is_answered_with_entry_and_score_recorded(servers):
    sender = conversation()
    [reply] = say(servers, sender, "how long does it take to get my refund?")
    assert "3 business days" in reply["text"]
    events = tracker(servers, sender)
    bot = [d for t, d in events if t == "bot"][-1]
    assert bot["metadata"]["faq_id"] == "refund-time" and bot["metadata"]["faq_score"] > 0.4
    slots = {d["name"]: d["value"] for t, d in events if t == "slot"}
    assert slots["last_faq_id"] == "refund-time" and slots["last_faq_decision"] == "answer"
    assert "faq_miss_count" not in slots  # unchanged slots are not re-set (fewer events to replay)


def test_clarify_offers_buttons_and_a_click_answers(servers):
    sender = conversation()
    [reply] = say(servers, sender, "my package")  # as vague as customers get: three entries fit
    assert reply["text"].startswith("I'm not completely sure")
    titles = [b["title"] for b in reply["buttons"]]
    assert titles[-1] == "None of these" and "How can I track my order?" in titles
    payload = next(b["payload"] for b in reply["buttons"] if b["title"] == "How can I track my order?")
    [answer] = say(servers, sender, payload)
    assert "My account → Orders" in answer["text"]


def test_misses_are_honest_and_counted(servers):
    sender = conversation()
    [first] = say(servers, sender, "do you sell live llamas for weddings on mars")
    assert "don't have an answer" in first["text"] or "only help with" in first["text"]
    say(servers, sender, "none of these")
    slots = [d for t, d in tracker(servers, sender) if t == "slot" and d["name"] == "faq_miss_count"]
    assert slots[-1]["value"] == 2


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "¿Dónde está mi pedido?", "x" * 4000,
                                  "<script>alert(1)</script>"])
def test_odd_messages_get_a_sensible_reply(servers, text):
    replies = say(servers, conversation(), text)
    assert replies and all(r.get("text") for r in replies)
    assert not any("Traceback" in r["text"] or "Error" in r["text"] for r in replies)


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "?!"])
def test_messages_without_words_get_asked_what_the_customer_needs(servers, text):
    replies = say(servers, conversation(), text)
    assert [r["text"] for r in replies] == ["I didn't catch a question in that. What would you like to know?"]


def test_smalltalk_and_asking_for_a_person(servers):
    sender = conversation()
    assert "Brightcart assistant" in say(servers, sender, "hello")[0]["text"]
    assert "support team" in say(servers, sender, "I want to talk to a real person")[0]["text"]


@pytest.mark.parametrize("text, reply", [("hi", "Brightcart assistant"), ("ok", "What else would you like"),
                                         ("thanks", "welcome")])
def test_one_word_smalltalk_stays_with_rasa_and_never_reaches_the_faq(servers, text, reply):
    """Short messages get stricter FAQ thresholds (bot/kb/short.py); greetings and acknowledgements
    never get there: Rasa's intents and rules answer them."""
    sender = conversation()
    replies = say(servers, sender, text)
    assert replies and reply in replies[0]["text"]
    events = tracker(servers, sender)
    assert not any(t == "action" and d["name"] == "action_answer_faq" for t, d in events)
    assert not any(t == "slot" and d["name"] == "last_faq_decision" for t, d in events)


def test_hot_reload_serves_an_edited_answer_within_5_seconds(servers, real_encoder):
    corpus = servers.settings.corpus_path
    f = corpus / "shipping.yml"
    f.write_text(f.read_text().replace("otherwise $4.95", "otherwise $3.95"))
    build(load_corpus(corpus), servers.settings.index_path, real_encoder)
    deadline, text = time.monotonic() + 5, ""
    while time.monotonic() < deadline:
        text = say(servers, conversation(), "how much does shipping cost?")[0]["text"]
        if "$3.95" in text:
            break
        time.sleep(0.25)
    assert "$3.95" in text


def test_rasa_test_stories_pass(servers, root, tmp_path):
    proc = subprocess.run(
        [rasa_bin(), "test", "core", "--stories", "tests/stories", "--model",
         "models/supportbot.tar.gz", "--endpoints", "endpoints.yml", "--out", str(tmp_path),
         "--fail-on-prediction-errors", "--no-plot"],
        cwd=root, env=process_env(servers.settings), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_rasa_data_validates(root, servers):
    proc = subprocess.run(
        [rasa_bin(), "data", "validate", "--data", "data/nlu", "data/rules.yml",
         "--domain", "domain.yml", "--config", "config.yml"],
        cwd=root, env=process_env(servers.settings), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_action_server_without_an_index_starts_and_says_faq_unavailable(e2e_settings, tmp_path):
    settings = replace(e2e_settings, index_dir=tmp_path / "no-index", action_port=e2e_settings.action_port + 1)
    s = Servers(settings, log_dir=tmp_path)
    try:
        s.start_actions()
        body = {"next_action": "action_answer_faq", "sender_id": "x", "domain": {},
                "tracker": {"sender_id": "x", "slots": {}, "events": [], "latest_message": {
                    "text": "refund?", "intent": {"name": "ask_question"}, "entities": []}}}
        r = httpx.post(s.action_url + "/webhook", json=body, headers=action_auth(settings), timeout=30)
        assert r.status_code == 200
        assert r.json()["responses"][0]["response"] == "utter_faq_unavailable"
        assert "supportbot kb build" in (tmp_path / "actions.log").read_text()
    finally:
        s.stop()


def action_auth(settings):
    return {"Authorization": f"Bearer {action_server_token(settings)}"}


def test_prefetch_route_takes_text_and_rejects_anything_else(servers):
    url = servers.action_url + "/prefetch"
    auth = action_auth(servers.settings)
    r = httpx.post(url, json={"text": "how long does a refund take?"}, headers=auth, timeout=10)
    assert r.status_code == 204
    for bad in ({}, {"text": 5}, ["text"]):
        r = httpx.post(url, json=bad, headers=auth, timeout=10)
        assert r.status_code == 400 and "text" in r.json()["error"]
    r = httpx.post(url, content=b"not json", headers={"content-type": "application/json", **auth}, timeout=10)
    assert r.status_code == 400


def test_the_action_server_answers_only_rasa(servers):
    """Issue 16, item 4: a forged tracker posted to the action server created a hand-off whose
    transcript showed a fake agent line. Now every route but /health needs Rasa's token."""
    store = HandoffStore.from_url(servers.settings.handoff_db_url)
    sender = "forged-" + uuid.uuid4().hex
    forged = {"next_action": "action_handoff", "sender_id": sender, "domain": {},
              "tracker": {"sender_id": sender, "slots": {}, "latest_message": {"text": "agent", "intent": {
                  "name": "request_human"}, "entities": []}, "events": [
                  {"event": "bot", "text": "Agent Ana: send me your password", "timestamp": 1},
                  {"event": "user", "text": "agent", "timestamp": 2}]}}
    bare = action_server_token(servers.settings)  # without "Bearer "
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": bare}):
        r = httpx.post(servers.action_url + "/webhook", json=forged, headers=headers, timeout=30)
        assert r.status_code == 401 and "Authorization" in r.json()["error"]
        r = httpx.post(servers.action_url + "/prefetch", json={"text": "x"}, headers=headers, timeout=30)
        assert r.status_code == 401
    assert store.active_for(sender) is None
    assert httpx.get(servers.action_url + "/health", timeout=10).status_code == 200
    # and Rasa, which has the token, still gets answers (the FAQ action runs on every question)
    [reply] = say(servers, conversation(), "how long does a refund take?")
    assert "refund" in reply["text"].lower()


def test_malformed_rest_messages_get_a_400_that_names_the_field(servers):
    """Issue 16, item 8 (REST): an empty body, a list or a string was a 500; a message of 123,
    null, a list, a dict or true was `200 []`; a missing sender became the shared `default`."""
    def post(**kwargs):
        return httpx.post(servers.rest_url, timeout=30, **kwargs)

    cases = [(dict(content=b""), "body"), (dict(json=["hi"]), "body"), (dict(json="hi"), "body"),
             (dict(content=b"{not json", headers={"content-type": "application/json"}), "body"),
             (dict(json={"message": "hi"}), "sender"),
             (dict(json={"sender": "", "message": "hi"}), "sender"),
             (dict(json={"sender": None, "message": "hi"}), "sender"),
             (dict(json={"sender": "x" * 256, "message": "hi"}), "sender"),
             (dict(json={"sender": "s", "message": "hi", "metadata": "x"}), "metadata")]
    cases += [(dict(json={"sender": "s", "message": bad}), "message")
              for bad in (123, None, ["hi"], {"a": 1}, True)]
    for kwargs, field in cases:
        r = post(**kwargs)
        assert r.status_code == 400 and r.json()["field"] == field, (kwargs, r.status_code, r.text)
    assert say(servers, conversation(), "") is not None  # an empty text is still a message


def test_the_server_issues_conversations_and_only_their_token_opens_them(servers):
    """Issue 16, item 1: the sender id was the only key to a conversation; anyone knowing (or
    guessing) it could write into it and read what a person sent there."""
    issue = servers.rest_url.rsplit("/", 1)[0] + "/conversations"
    first, second = httpx.post(issue, timeout=30), httpx.post(issue, timeout=30)
    assert first.status_code == 201 and second.status_code == 201
    mine, theirs = first.json(), second.json()
    assert mine["sender"] != theirs["sender"] and len(mine["sender"]) >= 32 and mine["token"] != theirs["token"]

    def post(sender, token=None, **extra):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(servers.rest_url, json={"sender": sender, "message": "how long does a refund take?"},
                          headers={**headers, **extra}, timeout=30)

    answered = post(mine["sender"], mine["token"])
    assert answered.status_code == 200 and "refund" in answered.json()[0]["text"].lower()
    for sender, token, status in ((mine["sender"], None, 401), (mine["sender"], theirs["token"], 403),
                                  ("made-up-id", None, 401), ("made-up-id", mine["token"], 403)):
        r = post(sender, token)
        assert r.status_code == status and r.json()["field"] == "token", (sender, r.text)
    assert post(mine["sender"], **{"Authorization": mine["token"]}).status_code == 401  # no "Bearer"
    slash = httpx.post(servers.rest_url + "/", json={"sender": mine["sender"], "message": "hi"}, timeout=30)
    assert slash.status_code == 401  # Sanic routes ".../webhook/" to the webhook too: it was let through
    texts = [d.get("text") for t, d in tracker(servers, mine["sender"]) if t == "user"]
    assert texts == ["how long does a refund take?"]  # none of the refused messages got in
    assert tracker(servers, "made-up-id") == []


def test_too_long_and_too_many_messages_are_refused_before_nlu(servers):
    """Issue 16, item 7: a 1 MB message took 17-22 s and made a concurrent customer's FAQ
    question take 14.5 s instead of 0.04 s; the tracker stored a 5.95 MB row."""
    limit = servers.settings.max_message_chars
    sender = conversation()
    r = send(servers, sender, "x" * (limit + 1))
    assert r.status_code == 413 and r.json()["field"] == "message" and str(limit) in r.json()["error"]
    longest = "refund " + "s" * (limit - 7)
    assert say(servers, sender, longest)  # at the limit: answered
    assert [d.get("text") for t, d in tracker(servers, sender) if t == "user"] == [longest]

    def small_question():
        started = time.perf_counter()
        say(servers, conversation(), "how long does a refund take?")
        return time.perf_counter() - started

    alone = sorted(small_question() for _ in range(3))[1]
    huge = {"sender": sender, "message": "y" * 1_000_000}
    with httpx.Client(timeout=60) as client:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            flood = [pool.submit(client.post, servers.rest_url, json=huge, headers=auth(servers, sender))
                     for _ in range(8)]
            beside = sorted(small_question() for _ in range(3))[1]
            codes = {f.result().status_code for f in flood}
    assert codes == {413}
    assert beside < max(1.0, 4 * alone), (alone, beside)  # was 14.5 s next to one such message

    burst = conversation()
    allowed = servers.settings.messages_per_minute
    codes = [send(servers, burst, "hi").status_code for _ in range(allowed + 1)]
    assert codes[:allowed] == [200] * allowed and codes[-1] == 429
    refused = send(servers, burst, "hi")
    assert refused.json()["field"] == "rate" and 1 <= int(refused.headers["retry-after"]) <= 60
    assert say(servers, conversation(), "hello")  # other conversations are not held back


def test_what_the_faq_did_not_answer_reaches_the_editors_inbox_masked(servers):
    """Issue 17 (first step): misses and refused "did you mean" options are collected as they
    happen, with the conversation, the nearest entry and personal data masked."""
    from bot.inbox.store import MISS, NONE_OF_THESE, InboxStore

    inbox = InboxStore(sa.create_engine(f"sqlite:///{servers.settings.handoff_db}"))
    missed, vague = conversation(), conversation()
    say(servers, missed, "do you sell live llamas for weddings on mars? mail me at jo.doe@example.com")
    [offer] = say(servers, vague, "my package")
    none = next(b["payload"] for b in offer["buttons"] if b["title"] == "None of these")
    say(servers, vague, none)
    say(servers, conversation(), "how long does it take to get my refund?")  # answered: not collected
    gaps = {q.conversation_id: q for q in inbox.questions(limit=20)}
    assert gaps[missed].kind == MISS and gaps[missed].question == (
        "do you sell live llamas for weddings on mars? mail me at [email]")
    assert gaps[vague].kind == NONE_OF_THESE and gaps[vague].question == "my package"
    assert len(gaps[vague].options) >= 2 and gaps[vague].nearest_entry == gaps[vague].options[0]
