"""Votes on answers as every channel checks them (bot.inbox.votes), and the rating of a conversation
the bot handled alone (bot.conversation.closing, bot.inbox.ratings, actions.closing, action_rate)."""

import asyncio

import pytest
import sqlalchemy as sa
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.access.limits import MessageLimits
from bot.conversation.answered import answers, current_session
from bot.conversation.closing import ASKED, RATED, asks_for_rating, handed_off
from bot.inbox.ratings import record_bot_rating
from bot.inbox.store import GAPS, LOW_RATING, NOT_HELPFUL, InboxStore
from bot.inbox.votes import Vote, VoteRefused, cast, parse_vote
from tests.handoff_events import EVENTS


@pytest.fixture
def inbox(tmp_path):
    return InboxStore(sa.create_engine(f"sqlite:///{tmp_path / 'h.db'}"))


def user(text):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "ask_question"}, "entities": []}}


def answer(faq_id, score=0.8, text="An answer."):
    return {"event": "bot", "text": text, "data": {},
            "metadata": {"faq_id": faq_id, "faq_score": score, "faq_decision": "answer"}}


SESSION = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}]
ASKED_TWICE = "how long do refunds take? mail jo@example.com"
BOT_ONLY = [*SESSION, user(ASKED_TWICE), answer("refund-time", 0.91), user("and shipping?"),
            answer("shipping-cost", 0.7), user(ASKED_TWICE), answer("refund-time", 0.91), user("bye")]


@pytest.mark.parametrize("body, field", [
    (None, "body"), (["x"], "body"), ({"faq_id": "refund-time", "helpful": True}, "sender"),
    ({"sender": "", "faq_id": "refund-time", "helpful": True}, "sender"),
    ({"sender": "c" * 256, "faq_id": "refund-time", "helpful": True}, "sender"),
    ({"sender": "c", "helpful": True}, "faq_id"), ({"sender": "c", "faq_id": 5, "helpful": True}, "faq_id"),
    ({"sender": "c", "faq_id": "a" * 256, "helpful": True}, "faq_id"),
    ({"sender": "c", "faq_id": "<script>", "helpful": True}, "faq_id"),
    ({"sender": "c", "faq_id": "refund-time"}, "helpful"),
    ({"sender": "c", "faq_id": "refund-time", "helpful": "no"}, "helpful"),
    ({"sender": "c", "faq_id": "refund-time", "helpful": 0}, "helpful"),
    ({"sender": "c", "faq_id": "refund-time", "helpful": True, "comment": "x" * 10_000}, "comment"),
])
def test_a_bad_vote_is_a_400_naming_its_field(body, field):
    with pytest.raises(VoteRefused) as refused:
        parse_vote(body)
    assert (refused.value.field, refused.value.status) == (field, 400)
    assert "faq_id" in str(refused.value)  # says what to send


def test_socketio_names_its_conversation_session_id():
    assert parse_vote({"session_id": "c", "faq_id": "refund-time", "helpful": False}, "session_id") == \
        Vote("c", "refund-time", False)
    with pytest.raises(VoteRefused) as refused:
        parse_vote({"sender": "c", "faq_id": "refund-time", "helpful": False}, "session_id")
    assert refused.value.field == "session_id"


def test_a_vote_needs_an_answer_from_that_entry_and_counts_against_the_rate(inbox):
    limits = MessageLimits(max_chars=100, per_minute=3, clock=lambda: 1000.0)

    async def events(conversation_id):
        assert conversation_id == "c1"
        return BOT_ONLY

    def vote(faq_id, helpful):
        asyncio.run(cast(Vote("c1", faq_id, helpful), inbox, limits, events))

    with pytest.raises(VoteRefused) as refused:
        vote("payment-methods", False)
    assert (refused.value.field, refused.value.status) == ("faq_id", 404)
    vote("shipping-cost", False)
    [gap] = inbox.questions()
    assert (gap.kind, gap.nearest_entry, gap.question) == (NOT_HELPFUL, "shipping-cost", "and shipping?")
    vote("shipping-cost", True)
    assert inbox.questions() == [] and inbox.votes() == {"shipping-cost": (1, 0)}
    with pytest.raises(VoteRefused) as refused:  # the 4th this minute, refusals counted too
        vote("shipping-cost", True)
    assert (refused.value.field, refused.value.status, refused.value.retry_after) == ("rate", 429, 60)


def test_answers_read_the_clarified_question_and_the_current_session():
    assert [(a.question, a.faq_id, a.score) for a in answers(EVENTS)] == [
        ("where is my parcel?", "order-tracking", None)]  # the click names the question it clarified
    old = [user("where is my order?"), answer("order-tracking")]
    assert answers(current_session(old + BOT_ONLY)) == answers(BOT_ONLY)
    assert current_session(old) == old  # no session start: everything


def test_the_bot_asks_for_a_rating_once_after_answers_and_never_after_a_person():
    assert asks_for_rating(BOT_ONLY, None)
    assert not asks_for_rating(BOT_ONLY, ASKED) and not asks_for_rating(BOT_ONLY, RATED)
    assert not asks_for_rating([*SESSION, user("do you sell llamas"), user("bye")], None)  # nothing answered
    status = {"event": "bot", "text": "Connecting you", "data": {"custom": {"handoff": {"id": "h1"}}}}
    assert handed_off([status]) and not asks_for_rating([*BOT_ONLY, status], None)
    agent = {"event": "bot", "text": "Hi, Ana here", "data": {}, "metadata": {"agent": "ana"}}
    assert not asks_for_rating([*BOT_ONLY, agent], None)
    # a person in an earlier session does not count: this session is the bot's alone
    assert asks_for_rating([status, *BOT_ONLY], None)


@pytest.mark.parametrize("rating", [1, 2])
def test_a_low_rating_puts_the_answered_questions_in_the_inbox_masked(inbox, rating):
    assert LOW_RATING in GAPS
    old_session = [user("where is my order?"), answer("order-tracking")]
    assert record_bot_rating(inbox, "c1", old_session + BOT_ONLY, rating) == 2  # the repeated one once
    gaps = inbox.questions()
    assert sorted((q.kind, q.question, q.nearest_entry, q.score, q.conversation_id) for q in gaps) == [
        (LOW_RATING, "and shipping?", "shipping-cost", 0.7, "c1"),
        (LOW_RATING, "how long do refunds take? mail [email]", "refund-time", 0.91, "c1")]


@pytest.mark.parametrize("rating", [3, 4, 5])
def test_a_fair_or_good_rating_adds_nothing(inbox, rating):
    assert record_bot_rating(inbox, "c1", BOT_ONLY, rating) == 0
    assert inbox.questions() == []


def test_a_broken_inbox_never_costs_the_reply(inbox, monkeypatch):
    def locked(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(inbox, "add", locked)
    assert record_bot_rating(inbox, "c1", BOT_ONLY, 1) == 0


def tracker(events, slots=None, text="bye", intent="goodbye", entities=()):
    return Tracker("c1", slots or {}, {"text": text, "intent": {"name": intent}, "entities": list(entities)},
                   events, False, None, {}, "")


def test_goodbye_and_thanks_ask_once_after_the_bot_answered_alone():
    from actions.closing import ActionGoodbye, ActionThank

    for action, response in ((ActionGoodbye(), "utter_goodbye"), (ActionThank(), "utter_thank")):
        said = CollectingDispatcher()
        assert action.run(said, tracker(BOT_ONLY), {}) == [{"event": "slot", "timestamp": None,
                                                            "name": "bot_rating", "value": ASKED}]
        assert [m["response"] for m in said.messages] == [response + "_ask_rating"]
        said = CollectingDispatcher()
        assert action.run(said, tracker(BOT_ONLY, {"bot_rating": ASKED}), {}) == []
        assert [m["response"] for m in said.messages] == [response]


def test_action_rate_takes_the_bots_rating_when_the_bot_asked(inbox, monkeypatch):
    import actions.handoff as glue

    monkeypatch.setattr(glue, "inbox", lambda: inbox)
    monkeypatch.setattr(glue, "handoffs", lambda: pytest.fail("a bot-only rating never asks for a hand-off"))
    said = CollectingDispatcher()
    asked = tracker(BOT_ONLY, {"bot_rating": ASKED}, '/rate{"rating": "2"}', "rate",
                    [{"entity": "rating", "value": "2"}])
    assert glue.ActionRate().run(said, asked, {}) == [{"event": "slot", "timestamp": None,
                                                       "name": "bot_rating", "value": RATED}]
    assert [m["response"] for m in said.messages] == ["utter_bot_rating_low"]
    assert {q.kind for q in inbox.questions()} == {LOW_RATING}
    said = CollectingDispatcher()
    assert glue.ActionRate().run(said, tracker(BOT_ONLY, {"bot_rating": RATED}, "1", "rate"), {}) == []
    assert said.messages[0]["text"].startswith("Thanks, your rating for this conversation is already recorded")
    assert len(inbox.questions()) == 2  # rated once
    said = CollectingDispatcher()
    glue.ActionRate().run(said, tracker(BOT_ONLY, {"bot_rating": ASKED}, "5 great", "rate"), {})
    assert [m["response"] for m in said.messages] == ["utter_bot_rating_thanks"]
