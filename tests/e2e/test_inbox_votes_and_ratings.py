"""Issue 17, the inbox's collection over REST through the real servers: a REST customer votes on an
answer (``POST /webhooks/rest/feedback``), and rates a conversation the bot handled alone."""

import httpx
import pytest

from bot.db import engine
from bot.inbox.store import LOW_RATING, NOT_HELPFUL, InboxStore
from tests.e2e.test_rest_conversations import auth, conversation, say

REFUND = "how long does it take to get my refund?"


@pytest.fixture(scope="module")
def inbox(servers):
    return InboxStore(engine(servers.settings.handoff_db_url))


def feedback_url(servers):
    return servers.rest_url.rsplit("/", 1)[0] + "/feedback"


def vote(servers, body, headers=None):
    sender = body.get("sender") if isinstance(body, dict) else None
    return httpx.post(feedback_url(servers), json=body, timeout=30,
                      headers=auth(servers, sender) if headers is None and sender else headers or {})


def answered(servers, sender, question=REFUND):
    """The entry whose answer the REST reply names on its last paragraph (as socket.io does)."""
    replies = say(servers, sender, question)
    assert "faq" not in replies[0] or len(replies) == 1
    return replies[-1]["faq"]["id"]


def mine(inbox, sender):
    return [q for q in inbox.questions() if q.conversation_id == sender]


def test_a_rest_vote_is_stored_and_a_not_helpful_one_lands_in_the_inbox(servers, inbox):
    sender = conversation()
    entry = answered(servers, sender)
    assert entry == "refund-time"
    before = inbox.votes().get(entry, (0, 0))
    r = vote(servers, {"sender": sender, "faq_id": entry, "helpful": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"faq_id": entry, "helpful": True}
    assert inbox.votes()[entry] == (before[0] + 1, before[1]) and mine(inbox, sender) == []
    r = vote(servers, {"sender": sender, "faq_id": entry, "helpful": False})  # changed their mind
    assert r.status_code == 200, r.text
    assert inbox.votes()[entry] == (before[0], before[1] + 1)
    [gap] = mine(inbox, sender)
    assert (gap.kind, gap.nearest_entry, gap.question) == (NOT_HELPFUL, entry, REFUND)


def test_a_rest_vote_is_refused_unless_its_conversation_got_that_answer(servers, inbox):
    sender, other = conversation(), conversation()
    entry = answered(servers, sender)
    answered(servers, other, "how much does shipping cost?")
    ok = {"sender": sender, "faq_id": entry, "helpful": False}

    def refused(body, status, field, headers=None):
        r = vote(servers, body, headers)
        assert (r.status_code, r.json()["field"]) == (status, field), r.text
        assert r.json()["error"]

    refused({**ok, "faq_id": "shipping-cost"}, 404, "faq_id")  # answered, but in another conversation
    refused({**ok, "faq_id": "never-answered"}, 404, "faq_id")
    refused(ok, 401, "token", headers={})
    refused(ok, 401, "token", headers={"Authorization": "Basic abc"})
    refused(ok, 403, "token", headers=auth(servers, other))  # another conversation's token
    refused({**ok, "helpful": "no"}, 400, "helpful")
    refused({"sender": sender, "helpful": False}, 400, "faq_id")
    refused({**ok, "faq_id": "x" * 300}, 400, "faq_id")
    refused({**ok, "note": "x" * 5000}, 400, "note")
    refused({"faq_id": entry, "helpful": False}, 400, "sender", headers=auth(servers, sender))
    refused(["not", "an", "object"], 400, "body", headers=auth(servers, sender))
    r = httpx.post(feedback_url(servers), content=b"{not json", timeout=30,
                   headers={"Content-Type": "application/json", **auth(servers, sender)})
    assert (r.status_code, r.json()["field"]) == (400, "body")
    assert mine(inbox, sender) == [] and mine(inbox, other) == []  # nothing refused was stored


def test_rest_votes_count_against_the_conversations_message_rate(servers):
    sender = conversation()
    entry = answered(servers, sender)
    body = {"sender": sender, "faq_id": entry, "helpful": True}
    statuses = [vote(servers, body) for _ in range(servers.settings.messages_per_minute)]
    limited = statuses[-1]
    assert {r.status_code for r in statuses[:-1]} == {200}  # the question was one of the minute's messages
    assert (limited.status_code, limited.json()["field"]) == (429, "rate")
    assert int(limited.headers["Retry-After"]) >= 1


def rating_prompt(reply):
    assert "How did I do" in reply["text"] or "how did I do" in reply["text"], reply
    return {b["title"]: b["payload"] for b in reply["buttons"]}


def test_a_low_rating_after_a_bot_only_conversation_sends_its_questions_to_the_inbox(servers, inbox):
    sender = conversation()
    answered(servers, sender)
    answered(servers, sender, "how much does shipping cost?")
    say(servers, sender, "do you sell live llamas for weddings on mars")  # a miss: in the inbox already
    [bye] = say(servers, sender, "bye")
    buttons = rating_prompt(bye)
    assert list(buttons) == ["1", "2", "3", "4", "5"]
    [sorry] = say(servers, sender, buttons["2"])  # a click on "2"
    assert sorry["text"].startswith("Sorry I couldn't help more")
    rated = sorted((q.question, q.nearest_entry) for q in mine(inbox, sender) if q.kind == LOW_RATING)
    assert rated == [("how long does it take to get my refund?", "refund-time"),
                     ("how much does shipping cost?", "shipping-cost")]
    [again] = say(servers, sender, "thanks")  # asked once: now just thanks
    assert again["text"] == "You're welcome! Is there anything else I can help with?" and "buttons" not in again
    [twice] = say(servers, sender, "1")
    assert twice["text"].startswith("Thanks, your rating for this conversation is already recorded")
    assert len([q for q in mine(inbox, sender) if q.kind == LOW_RATING]) == 2


def test_a_good_rating_adds_nothing_and_a_conversation_without_answers_is_not_asked(servers, inbox):
    sender = conversation()
    answered(servers, sender)
    [thanks] = say(servers, sender, "thanks")
    assert thanks["text"].startswith("You're welcome!")
    say(servers, sender, rating_prompt(thanks)["5"])
    assert [q for q in mine(inbox, sender) if q.kind == LOW_RATING] == []
    [bye] = say(servers, sender, "bye")
    assert bye["text"] == "Thanks for visiting Brightcart. Goodbye!"
    quiet = conversation()
    say(servers, quiet, "hello")
    [bye] = say(servers, quiet, "bye")  # nothing answered: nothing to rate
    assert bye["text"] == "Thanks for visiting Brightcart. Goodbye!" and "buttons" not in bye
