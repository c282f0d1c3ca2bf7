import pytest
from jsonschema import ValidationError
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_ext.nlu import EMPTY_INTENT, EmptyMessageClassifier, IntentClassifier, has_content
from bot.rasa_ext.server import _validate_action_result


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

    from bot.rasa_ext.server import install_speedups

    install_speedups()
    peers = []

    async def webhook(request):
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": [], "echo": (await request.json())["n"]})

    async def run():
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Test": "1"})
        try:
            return [(await endpoint.request(json={"n": n}, method="post"))["echo"] for n in range(5)]
        finally:
            await runner.cleanup()

    assert asyncio.run(run()) == [0, 1, 2, 3, 4]
    assert len(peers) == 5 and len(set(peers)) == 1
