"""Rasa's side when the action server is down (bot/rasa/fallback.py): a request for a person is
stored from the Rasa process and the customer told; the FAQ says honestly it cannot look up.
Rasa's real RemoteAction against a port where nothing listens."""

import asyncio
import socket
import subprocess
import sys

import pytest
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import runtime
from bot.handoff.store import HandoffStore
from bot.rasa.fallback import install_fallback
from bot.rasa.launcher import install_speedups
from tests.helpers import http_server


@pytest.fixture(scope="module")
def domain(root):
    return Domain.load(str(root / "domain.yml"))


@pytest.fixture
def handoff_db(tmp_path, monkeypatch):
    """The Rasa process's services (bot.runtime) on a fresh hand-off database."""
    monkeypatch.setenv("SUPPORTBOT_HANDOFF_DB", str(tmp_path / "handoff.db"))
    monkeypatch.setenv("SUPPORTBOT_ROOT", str(tmp_path))
    runtime.settings.cache_clear()
    runtime.handoffs.cache_clear()
    yield HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
    runtime.settings.cache_clear()
    runtime.handoffs.cache_clear()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def tracker_of(domain, sender, text, intent):
    return DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen"), UserUttered("hello", {"name": "greet", "confidence": 0.99}),
        ActionExecuted("utter_greet"), BotUttered("Hi! How can I help?"), ActionExecuted("action_listen"),
        UserUttered(text, {"name": intent, "confidence": 0.99})], domain.slots)


def run_action(name, domain, tracker, url=None):
    install_speedups()
    install_fallback()
    install_fallback()  # twice (tests, restarts): still one layer
    endpoint = EndpointConfig(url or f"http://127.0.0.1:{closed_port()}/webhook", enable_selective_domain=True)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    return asyncio.run(RemoteAction(name, endpoint).run(CollectingOutputChannel(), nlg, tracker, domain))


def test_a_request_for_a_person_is_stored_and_answered_while_the_action_server_is_down(domain, handoff_db):
    events = run_action("action_handoff", domain, tracker_of(domain, "c1", "I want a person", "request_human"))
    h = handoff_db.active_for("c1")
    assert h is not None and h.reason == "user_request" and h.ticket  # nobody online: a ticket
    assert [line.text for line in h.packet.transcript] == ["hello", "Hi! How can I help?", "I want a person"]
    [said] = [e for e in events if isinstance(e, BotUttered)]
    assert "No one from our support team is available" in said.text
    assert said.data["custom"]["handoff"]["id"] == h.id
    assert SlotSet("handoff_offered", False) in events
    # the action server died after storing it: running it again here stores nothing new
    run_action("action_handoff", domain, tracker_of(domain, "c1", "I want a person", "request_human"))
    assert handoff_db.queue_position(h.id) == 1


def test_frustration_still_gets_the_offer_of_a_person(domain, handoff_db):
    events = run_action("action_offer_handoff", domain,
                        tracker_of(domain, "c2", "this is useless", "frustrated"))
    assert [e.text for e in events if isinstance(e, BotUttered)] == [
        "Shall I connect you with a person from our support team?"]
    assert SlotSet("handoff_offered", True) in events


def test_goodbye_still_says_goodbye(domain, handoff_db):
    events = run_action("action_goodbye", domain, tracker_of(domain, "c5", "bye", "goodbye"))
    assert [e.text for e in events if isinstance(e, BotUttered)] == ["Thanks for visiting Brightcart. Goodbye!"]


def test_a_faq_question_gets_an_honest_cannot_look_up_now(domain, handoff_db):
    events = run_action("action_answer_faq", domain,
                        tracker_of(domain, "c3", "how long do refunds take?", "ask_question"))
    [said] = events
    assert said.text.startswith("Sorry, I can't look up answers right now. Please try again in a few minutes")
    assert "ask for a person" in said.text


def test_a_rejection_by_a_running_action_server_is_still_a_rejection(domain, handoff_db):
    from aiohttp import web

    async def reject(request):
        return web.json_response({"action_name": "action_answer_faq", "error": "no"}, status=400)

    async def serve_and_run():
        async with http_server("/webhook", reject) as url:
            return await asyncio.to_thread(run_action, "action_answer_faq", domain,
                                           tracker_of(domain, "c4", "refunds?", "ask_question"), url)

    with pytest.raises(ActionExecutionRejection):
        asyncio.run(serve_and_run())


@pytest.mark.parametrize("status", [500, 401])
def test_an_action_server_that_answers_with_an_error_is_not_run_again_here(domain, handoff_db, status):
    """A 500 may come after the action partly ran (running it again here could do things twice);
    a 401 is a wrong token (running here would hide it): the honest message, nothing stored here."""
    from aiohttp import web

    async def fail(request):
        return web.json_response({"error": "boom"}, status=status)

    async def serve_and_run():
        async with http_server("/webhook", fail) as url:
            return await asyncio.to_thread(run_action, "action_handoff", domain,
                                           tracker_of(domain, f"c{status}", "I want a person", "request_human"),
                                           url)

    [said] = asyncio.run(serve_and_run())
    assert said.text.startswith("Sorry, I can't look up answers right now")
    assert handoff_db.active_for(f"c{status}") is None


def test_running_hand_off_actions_here_loads_neither_the_encoder_nor_the_index():
    code = ("import sys; from bot.rasa.fallback import local_actions; local_actions(); "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'faiss', 'bot.kb.serving', "
            "'bot.kb.index', 'actions.faq') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
