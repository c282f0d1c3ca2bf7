import pytest
from jsonschema import ValidationError
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_ext.nlu import EMPTY_INTENT, EmptyMessageClassifier, has_content
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


def test_cached_action_result_validation_still_rejects_bad_replies():
    good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
    assert _validate_action_result(None, good)
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        _validate_action_result(None, {"events": "not a list"})
    with pytest.raises(ValidationError):
        _validate_action_result(None, {"events": [{"no_event_key": 1}]})
