"""A '/intent{...}' message counts as an intent only when the bot just offered it as a button."""

import pytest
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message

from bot.handoff.messages import rating_buttons
from bot.rasa.typed_intents import install_typed_intent_check, latest_turn, parse_with_graph, takes_as_intent
from tests.handoff_events import CLARIFY_BUTTONS, EVENTS

CHOOSE = '/choose_faq{"faq_id": "order-tracking"}'
RESOLVED_AND_ASKED_FOR_A_RATING = [
    *EVENTS,
    {"event": "action", "timestamp": 1700000040.1, "name": "action_handoff"},
    {"event": "pause", "timestamp": 1700000040.2},
    {"event": "bot", "timestamp": 1700000050.0, "text": "ana has marked your question as resolved.",
     "data": {}, "metadata": {"handoff": {"state": "resolved"}}},
    {"event": "resume", "timestamp": 1700000050.1},
    {"event": "action", "timestamp": 1700000050.2, "name": "action_listen"},
    {"event": "user", "timestamp": 1700000050.3, "text": None, "input_channel": None,
     "parse_data": {"intent": {"name": "handoff_finished", "confidence": 1.0}, "entities": []},
     "metadata": {"is_external": True}},
    {"event": "action", "timestamp": 1700000050.4, "name": "action_handoff_followup"},
    {"event": "bot", "timestamp": 1700000050.5, "text": "I'm back. How would you rate the help?",
     "data": {"buttons": rating_buttons()}, "metadata": {}},
]


def tracker(events):
    """A real Rasa tracker, as the processor holds it, from events shaped as Rasa stores them."""
    return DialogueStateTracker.from_dict("c", events)


def clarified(extra=()):
    return tracker([*EVENTS[:5], {"event": "bot", "timestamp": 1700000010.1, "text": "Did you mean?",
                                  "data": {"buttons": CLARIFY_BUTTONS}, "metadata": {}}, *extra])


@pytest.mark.parametrize("text,expected", [
    (CHOOSE, True),                                             # a clicked clarify option
    ('/choose_faq{ "faq_id" : "order-tracking" }', True),       # the same, spaced differently
    ("/none_of_these", True),
    ('/choose_faq{"faq_id": "refund-time"}', False),            # an option that was not offered
    ("/choose_faq", False),
    ("/restart", False),
    ('/give_email{"email": "<img src=x onerror=alert(3)>"}', False),
    ("/request_human", True),                                   # the widget's own "Talk to a person"
    ("where is my parcel?", True),                              # ordinary text: parsed as always
])
def test_only_the_offered_buttons_count_as_intents(text, expected):
    assert takes_as_intent(text, latest_turn(clarified())) is expected


def test_buttons_count_only_until_the_customer_says_something_else():
    later = clarified([
        {"event": "user", "timestamp": 1700000011.0, "text": "actually, refunds?", "input_channel": "rest",
         "parse_data": {"intent": {"name": "ask_question"}, "entities": []}},
        {"event": "bot", "timestamp": 1700000011.1, "text": "Refunds take 3 days.", "data": {}}])
    assert not takes_as_intent(CHOOSE, latest_turn(later))
    assert not takes_as_intent("/none_of_these", latest_turn(later))


def test_the_rating_buttons_after_a_resolve_count_once():
    asked = tracker(RESOLVED_AND_ASKED_FOR_A_RATING)
    five = '/rate{"rating": "5"}'
    assert takes_as_intent(five, latest_turn(asked))
    rated = tracker([*RESOLVED_AND_ASKED_FOR_A_RATING,
                     {"event": "user", "timestamp": 1700000060.0, "text": five, "input_channel": "rest",
                      "parse_data": {"intent": {"name": "rate"}, "entities": []}},
                     {"event": "bot", "timestamp": 1700000060.1, "text": "Thank you!", "data": {}}])
    assert not takes_as_intent('/rate{"rating": "1"}', latest_turn(rated))
    assert not takes_as_intent(five, latest_turn(rated))


def test_the_offer_of_a_person_from_a_domain_response_counts():
    offered = tracker([*EVENTS[:3], {"event": "bot", "timestamp": 1700000001.2, "text": "Shall I?",
                                     "data": {"buttons": [{"title": "Yes", "payload": "/affirm"},
                                                          {"title": "No", "payload": "/deny"}]}}])
    assert takes_as_intent("/affirm", latest_turn(offered)) and takes_as_intent("/deny", latest_turn(offered))
    assert not takes_as_intent("/affirm", latest_turn(tracker(EVENTS)))


class RecordingGraph:
    """Stands in for Rasa's graph runner: records the target asked for, returns an NLU result."""

    def __init__(self):
        self.targets = []

    def run(self, inputs, targets):
        self.targets.extend(targets)
        [message] = inputs["__message__"]
        intent = {"name": "give_email" if targets == ["run_RegexMessageHandler"] else "nlu_fallback",
                  "confidence": 1.0}
        return {targets[0]: [Message(data={"text": message.text, "intent": intent, "entities": []},
                                     output_properties={"intent", "entities"})]}


class Processor:
    _parse_message_with_graph = parse_with_graph(MessageProcessor._parse_message_with_graph)

    def __init__(self):
        from rasa.engine.graph import GraphSchema, SchemaNode

        from bot.rasa.nlu import EmptyMessageClassifier

        node = SchemaNode(needs={"messages": "run_FallbackClassifier8"}, uses=EmptyMessageClassifier,
                          constructor_name="create", fn="process", config={})
        self.graph_runner = RecordingGraph()
        self.model_metadata = type("Metadata", (), {
            "nlu_target": "run_RegexMessageHandler",
            "predict_schema": GraphSchema({"run_RegexMessageHandler": node})})()


def test_a_typed_payload_is_parsed_without_rasas_slash_handler_and_keeps_its_text():
    from rasa.core.channels.channel import UserMessage

    typed = '/give_email{"email": "<img src=x onerror=alert(3)>"}'
    p = Processor()
    parsed = p._parse_message_with_graph(UserMessage(typed, sender_id="c"), clarified())
    assert p.graph_runner.targets == ["run_FallbackClassifier8"]  # the NLU pipeline's last component
    assert parsed["text"] == typed and parsed["intent"]["name"] == "nlu_fallback"
    clicked = p._parse_message_with_graph(UserMessage(CHOOSE, sender_id="c"), clarified())
    assert p.graph_runner.targets[-1] == "run_RegexMessageHandler" and clicked["text"] == CHOOSE


def test_installing_twice_wraps_rasa_once(monkeypatch):
    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph",
                        MessageProcessor._parse_message_with_graph)
    original = MessageProcessor._parse_message_with_graph
    install_typed_intent_check()
    install_typed_intent_check()
    assert MessageProcessor._parse_message_with_graph.original is original
