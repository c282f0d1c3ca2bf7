import pytest
from jsonschema import ValidationError
from rasa.shared.nlu.training_data.message import Message

from bot.rasa.launcher import _validate_action_result
from bot.rasa.nlu import EMPTY_INTENT, EmptyMessageClassifier, IntentClassifier, has_content
from tests.helpers import http_server


@pytest.mark.parametrize("text,expected", [
    ("", False), ("   \n", False), ("🙂👍", False), ("?!...", False), (None, False),
    ("ok", True), ("7", True), ("¿Dónde?", True), ("退货", True)])
def test_has_content(text, expected):
    assert has_content(text) is expected


def test_empty_message_classifier_overrides_only_wordless_messages():
    diet = {"name": "affirm", "confidence": 0.9}
    wordless = Message(data={"text": "🙂", "intent": diet})
    words = Message(data={"text": "refund please", "intent": diet})
    EmptyMessageClassifier().process([wordless, words])
    assert wordless.get("intent") == {"name": EMPTY_INTENT, "confidence": 1.0}
    assert wordless.get("intent_ranking") == [{"name": EMPTY_INTENT, "confidence": 1.0}]
    assert words.get("intent") == diet


def test_intent_classifier_leaves_wordless_messages_to_the_empty_message_classifier(monkeypatch):
    """Rasa's logistic regression raises on an empty message (fewer features), failing the turn."""
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    seen = []

    def classify(self, messages):
        seen.extend(m.get("text") for m in messages)
        for m in messages:
            m.set("intent", {"name": "greet", "confidence": 0.9})
        return messages

    monkeypatch.setattr(LogisticRegressionClassifier, "process", classify)
    messages = [Message(data={"text": t}) for t in ("", "   ", "hello", "?!")]
    assert IntentClassifier.process(object.__new__(IntentClassifier), messages) is messages
    assert seen == ["hello"]
    assert [m.get("intent")["name"] for m in messages] == [None, None, "greet", None]
    EmptyMessageClassifier().process(messages)
    assert [m.get("intent")["name"] for m in messages] == [EMPTY_INTENT, EMPTY_INTENT, "greet", EMPTY_INTENT]


def test_cached_action_result_validation_still_rejects_bad_replies():
    good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
    assert _validate_action_result(None, good)
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        _validate_action_result(None, {"events": "not a list"})
    with pytest.raises(ValidationError):
        _validate_action_result(None, {"events": [{"no_event_key": 1}]})


def test_action_endpoint_calls_reuse_one_connection():
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa.launcher import install_speedups

    install_speedups()
    peers = []

    async def webhook(request):
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": [], "echo": (await request.json())["n"]})

    async def run():
        async with http_server("/webhook", webhook) as url:
            endpoint = EndpointConfig(url, headers={"X-Test": "1"})
            return [(await endpoint.request(json={"n": n}, method="post"))["echo"] for n in range(5)]

    assert asyncio.run(run()) == [0, 1, 2, 3, 4]
    assert len(peers) == 5 and len(set(peers)) == 1


def test_actions_marked_latest_turn_only_get_that_turn_and_others_the_whole_conversation():
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa.launcher import install_speedups

    install_speedups()
    install_speedups()  # twice (tests, restarts): still one layer
    domain = Domain.from_yaml("""
version: "3.1"
slots:
  faq_miss_count: {type: float, influence_conversation: false, mappings: [{type: custom}]}
actions: [action_answer_faq, action_handoff]
""")
    tracker = DialogueStateTracker.from_events("c1", [
        ActionExecuted("action_listen"), UserUttered("where is my parcel", {"name": "ask_question"}),
        ActionExecuted("action_answer_faq"), SlotSet("faq_miss_count", 1.0), BotUttered("Track it"),
        ActionExecuted("action_listen"), UserUttered("and refunds?", {"name": "ask_question"})],
        domain.slots)
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", latest_turn_only=["action_answer_faq"],
                              enable_selective_domain=True)
    lean = RemoteAction("action_answer_faq", endpoint)._action_call_format(tracker, domain)
    full = RemoteAction("action_handoff", endpoint)._action_call_format(tracker, domain)
    assert [e["event"] for e in full["tracker"]["events"]] == [
        "action", "user", "action", "slot", "bot", "action", "user"]
    assert [e.get("text") for e in lean["tracker"]["events"]] == ["and refunds?"]
    assert lean["tracker"]["slots"]["faq_miss_count"] == 1.0
    assert lean["tracker"]["latest_message"]["text"] == "and refunds?"
    assert {k: v for k, v in lean["tracker"].items() if k != "events"} == {
        k: v for k, v in full["tracker"].items() if k != "events"}
    assert lean["next_action"] == "action_answer_faq" and "domain" not in lean
