"""Tracker events shaped exactly as Rasa 3.6 sends them to the action server (EventVerbosity.ALL)."""

CLARIFY_BUTTONS = [
    {"title": "How do I track my order?", "payload": '/choose_faq{"faq_id": "order-tracking"}'},
    {"title": "None of these", "payload": "/none_of_these"},
]

EVENTS = [
    {"event": "action", "timestamp": 1700000000.0, "name": "action_session_start"},
    {"event": "session_started", "timestamp": 1700000000.1},
    {"event": "user", "timestamp": 1700000001.0, "text": "hi", "input_channel": "rest",
     "parse_data": {"intent": {"name": "greet", "confidence": 0.99}, "entities": []}},
    {"event": "bot", "timestamp": 1700000001.2, "text": "Hi! I'm the Brightcart assistant.",
     "data": {"buttons": None}, "metadata": {"utter_action": "utter_greet"}},
    {"event": "user", "timestamp": 1700000010.0, "text": "where is my parcel?", "input_channel": "rest",
     "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}, "entities": []}},
    {"event": "bot", "timestamp": 1700000010.1, "text": "Did you mean one of these?",
     "data": {"buttons": CLARIFY_BUTTONS},
     "metadata": {"faq_decision": "clarify", "faq_options": ["order-tracking"]}},
    {"event": "user", "timestamp": 1700000020.0, "text": '/choose_faq{"faq_id": "order-tracking"}',
     "input_channel": "rest", "parse_data": {"intent": {"name": "choose_faq"}, "entities": []}},
    {"event": "bot", "timestamp": 1700000020.1, "text": "Use the tracking link in your email.",
     "data": {}, "metadata": {"faq_id": "order-tracking", "faq_score": None, "faq_decision": "chosen"}},
    {"event": "slot", "timestamp": 1700000020.2, "name": "faq_miss_count", "value": 0},
    {"event": "user", "timestamp": 1700000030.0,
     "text": "it says delivered but nothing came, mail me at jo@example.com",
     "input_channel": "rest", "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": []}},
    {"event": "bot", "timestamp": 1700000030.1, "text": "Sorry, I don't have an answer to that.",
     "data": {}, "metadata": {"faq_decision": "miss"}},
    {"event": "user", "timestamp": 1700000040.0, "text": "I want to talk to a human",
     "input_channel": "rest", "parse_data": {"intent": {"name": "request_human"}, "entities": []}},
]
