"""Issue 19 (assist): each FAQ turn records why the bot did what it did, with the bot message, at the
time; the hand-off transcript carries it for agents; customers never get it."""

from bot import wire
from bot.conversation.faq_turn import WHY, faq_turn
from bot.handoff.packet import transcript_from_events
from tests.unit.test_service import LOOSE, kb  # noqa: F401 - the fixture


def test_an_answer_records_decision_candidates_thresholds_and_index(kb):  # noqa: F811
    [msg] = faq_turn(kb, "I forgot my password", "ask_question", {}, misses=0).messages
    why = msg.metadata[WHY]
    assert why["decision"] == "answer" and why["index"] == kb.version.name
    top = why["candidates"][0]
    assert top["id"] == "password-reset" and top["score"] == msg.metadata["faq_score"]
    assert top["question"] == kb.version.by_id["password-reset"].question
    assert 1 <= len(why["candidates"]) <= 3
    scores = [c["score"] for c in why["candidates"]]
    assert scores == sorted(scores, reverse=True)
    assert why["thresholds"]["answer"] == LOOSE.answer and why["thresholds"]["margin"] == LOOSE.margin
    assert why["thresholds"]["clarify"] == LOOSE.clarify and "score" in why["reason"]


def test_a_clarify_and_a_miss_record_theirs(kb):  # noqa: F811
    [clarify] = faq_turn(kb, "how long does shipping take", "ask_question", {}, misses=0).messages
    assert clarify.metadata[WHY]["decision"] == "clarify"
    assert [c["id"] for c in clarify.metadata[WHY]["candidates"]][:2] == ["refund-time", "shipping-cost"]
    miss = faq_turn(kb, "zebra quantum violin", "nlu_fallback", {}, misses=0).messages[0]
    assert miss.response == "utter_faq_miss" and miss.metadata[WHY]["decision"] == "miss"
    assert miss.metadata[WHY]["thresholds"]["clarify"] == LOOSE.clarify


def test_the_transcript_carries_it_and_a_pushed_bot_message_does_not():
    why = {"decision": "miss", "candidates": [{"id": "a", "question": "Q?", "score": 0.2}],
           "thresholds": {"answer": 0.6}, "index": "v1", "reason": "score 0.200 < clarify 0.300"}
    events = [{"event": "user", "text": "hello?", "timestamp": 1},
              {"event": "bot", "text": "Sorry", "timestamp": 2,
               "metadata": {"faq_decision": "miss", WHY: why}}]
    [_, bot] = transcript_from_events(events)
    assert bot.why == why
    # after a hand-back Rasa's messages reach the customer through bot.wire.bot_message
    push = wire.bot_message("c1", {"text": "Sorry", "faq_decision": "miss", WHY: why})
    assert WHY not in push and push["text"] == "Sorry"
    assert wire.text_paragraphs("Sorry", {WHY: why, "faq_decision": "miss"}) == [{"text": "Sorry"}]
