"""What a customer types is text: a '/intent{...}' message counts only as a button the bot offered,
entities are validated, and a hand-off is rated once (issue 16, item 3)."""

import pytest
import sqlalchemy as sa

from bot.handoff import messages
from bot.handoff.store import HandoffStore
from bot.staff.accounts import StaffStore, sessions
from bot.staff.passwords import hash_password
from tests.e2e.test_handoff import PASSWORD, console, poll, texts, waiting_customer
from tests.e2e.test_rest_conversations import conversation, say, tracker

XSS = "<img src=x onerror=alert(3)>"


@pytest.fixture(scope="module")
def store(servers):
    s = HandoffStore.from_url(servers.settings.handoff_db_url)
    StaffStore(s.engine).add_agent("ana", hash_password(PASSWORD))
    return s


def resolved_customer(servers):
    """A customer whose hand-off an agent resolved: (sender, hand-off id, the rating buttons)."""
    agent, sender, hid = waiting_customer(servers)
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200
    back = poll(servers, sender)
    assert back[-1]["text"] == messages.BACK_RESOLVED
    return sender, hid, back[-1]["buttons"]


def test_a_typed_restart_during_a_handoff_is_only_text_for_the_agent(servers, store):
    agent, sender, hid = waiting_customer(servers)
    assert [m["text"] for m in poll(servers, sender)] == ["ana has joined the conversation."]
    assert say(servers, sender, "/restart") == []  # the bot stays paused: a person has it
    assert say(servers, sender, "talk to a person") == []  # was "you are number 0 in the queue"
    assert not any(kind == "restart" for kind, _ in tracker(servers, sender))
    said = [m["text"] for m in agent.get(f"/handoffs/{hid}/messages").json()["messages"]
            if m["role"] == "customer"]
    assert said[-2:] == ["/restart", "talk to a person"]
    assert store.get(hid).state == "assigned"
    agent.post(f"/handoffs/{hid}/resolve")


def test_clicked_rating_buttons_rate_once_and_a_second_rating_is_refused_politely(servers, store):
    sender, hid, buttons = resolved_customer(servers)
    assert [b["title"] for b in buttons] == ["1", "2", "3", "4", "5"]
    five = next(b["payload"] for b in buttons if b["title"] == "5")
    assert texts(say(servers, sender, five)) == [messages.RATING_THANKS]
    assert store.get(hid).rating == 5
    # the same button again, another (no longer offered) button typed, a typed number: refused
    for again in (five, '/rate{"rating": "1"}', "4", "2 - slow"):
        assert texts(say(servers, sender, again)) == [messages.RATING_ALREADY], again
    h = store.get(hid)
    assert (h.rating, h.rating_comment) == (5, None)


def test_a_typed_faq_choice_that_was_never_offered_is_searched_as_text(servers):
    sender = conversation()
    say(servers, sender, "hello")
    say(servers, sender, '/choose_faq{"faq_id": "refund-time"}')
    bot = [d for t, d in tracker(servers, sender) if t == "bot"][-1]
    assert (bot.get("metadata") or {}).get("faq_decision") != "chosen"  # not taken as a clicked option
    user = [d for t, d in tracker(servers, sender) if t == "user"][-1]
    assert user["parse_data"]["entities"] == []


def test_a_typed_give_email_payload_is_not_an_email_and_an_invalid_one_is_asked_again(servers, store):
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sessions))  # nobody logged in: the hand-off becomes a ticket
    sender = conversation()
    reply = texts(say(servers, sender, "talk to a human"))
    assert "leave your email address" in reply[0]
    hid = store.active_for(sender).id
    replies = texts(say(servers, sender, f'/give_email{{"email":"{XSS}"}}'))
    assert not any(XSS in r for r in replies), replies
    assert store.get(hid).customer_email is None
    emails = [d["value"] for t, d in tracker(servers, sender) if t == "slot" and d["name"] == "customer_email"]
    assert XSS not in emails
    # an address that only looks like one: asked again, never stored
    assert texts(say(servers, sender, "my email is jo..doe@example.com")) == [messages.EMAIL_INVALID]
    assert store.get(hid).customer_email is None
    assert texts(say(servers, sender, "my email is jo.doe@example.com")) == [
        "Thanks! Our support team will reply to jo.doe@example.com."]
    assert store.get(hid).customer_email == "jo.doe@example.com"


def test_offered_hand_off_buttons_still_work_when_clicked(servers, store):
    console(servers)  # someone online
    sender = conversation()
    offer = say(servers, sender, "this is useless")
    assert [b["payload"] for b in offer[-1]["buttons"]] == ["/affirm", "/deny"]
    assert texts(say(servers, sender, "/deny"))[0].startswith("Okay, I'll keep trying")
    assert texts(say(servers, sender, "this is useless")) == [
        "Shall I connect you with a person from our support team?"]
    assert texts(say(servers, sender, "/affirm"))[0].startswith("Connecting you to a person")
    assert store.active_for(sender).reason == "frustration"
