import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema

from bot.handoff.packet import HandoffPacket, Reason, Role, build_packet, json_schema
from tests.handoff_events import EVENTS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def packet(**slots):
    return build_packet("conv-1", EVENTS, slots, Reason.user_request, now=NOW)


def test_transcript_keeps_every_message_in_order_with_its_source():
    p = packet()
    assert [(line.role, line.text[:20]) for line in p.transcript] == [
        (Role.customer, "hi"), (Role.bot, "Hi! I'm the Brightca"),
        (Role.customer, "where is my parcel?"), (Role.bot, "Did you mean one of t"[:20]),
        (Role.customer, "How do I track my or"), (Role.bot, "Use the tracking lin"),
        (Role.customer, "it says delivered bu"), (Role.bot, "Sorry, I don't have a"[:20]),
        (Role.customer, "I want to talk to a "),
    ]
    clarify = p.transcript[3]
    assert [b.title for b in clarify.buttons] == ["How do I track my order?", "None of these"]
    assert p.transcript[5].faq_id == "order-tracking" and p.transcript[5].faq_decision == "chosen"
    assert p.transcript[0].at == datetime.fromtimestamp(1700000001.0, tz=timezone.utc)
    assert p.channel == "rest" and p.created_at == NOW


def test_summary_names_the_first_real_question_what_was_tried_and_the_last_message():
    s = packet().summary
    assert s.first_question == "where is my parcel?"
    assert s.faq_tried == ["order-tracking"]
    assert s.last_message == "I want to talk to a human"


def test_customer_details_come_from_slots_first_then_from_what_they_wrote():
    assert packet().customer.email == "jo@example.com"
    assert packet(customer_email="x@y.org", customer_name="Jo").customer.dict() == {
        "name": "Jo", "email": "x@y.org"}


def test_packet_round_trips_and_validates_against_the_published_schema():
    p = packet()
    raw = p.to_json()
    assert HandoffPacket.from_json(raw) == p
    jsonschema.validate(json.loads(raw), json.loads(json_schema()))


def test_published_schema_in_docs_is_current():
    published = Path(__file__).parents[2] / "docs" / "handoff-packet.schema.json"
    assert published.read_text() == json_schema(), \
        "regenerate it: supportbot handoff schema > docs/handoff-packet.schema.json"


def test_a_widget_button_payload_shows_as_its_intent_not_as_a_slash_command():
    events = EVENTS + [{"event": "user", "timestamp": 1700000050.0, "text": "/request_human",
                        "parse_data": {"intent": {"name": "request_human"}}}]
    p = build_packet("c", events, {}, Reason.user_request)
    assert p.transcript[-1].text == "(request human)" and p.summary.last_message == "(request human)"


def test_a_typed_slash_command_shows_as_typed_and_an_invalid_email_slot_is_ignored():
    typed = {"event": "user", "timestamp": 1700000050.0, "text": "/restart",
             "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": []}}
    p = build_packet("c", [*EVENTS, typed], {"customer_email": "<img src=x onerror=alert(3)>"},
                     Reason.user_request)
    assert p.transcript[-1].text == "/restart"
    assert p.customer.email == "jo@example.com"  # the slot was no address: the one they wrote
    assert packet(customer_email="jo..doe@example.com").customer.email == "jo@example.com"
