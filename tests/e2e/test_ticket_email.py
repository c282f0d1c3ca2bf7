"""Issue 19: a ticket's way back to the customer, through the real servers and the background worker:
an agent replies from the console, the worker sends it to a real SMTP server on loopback (aiosmtpd),
its state shows on the ticket, and the customer sees the reply when they come back."""

import time

import pytest
import sqlalchemy as sa

from bot.staff.accounts import sessions
from tests.e2e.conftest import SMTP_FROM, SMTP_PORT
from tests.e2e.test_handoff import SocketCustomer, base, console, handoff_of, poll, store  # noqa: F401
from tests.e2e.test_rest_conversations import conversation, say
from tests.smtp_server import Mailbox

REPLY = "Hi Jo, your parcel left our depot this morning: it arrives tomorrow."


def ticket(servers, store, email="jo.doe@example.com", question="where is my parcel?"):  # noqa: F811
    """A customer who asked for a person while nobody was online (and left an address): their id."""
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sessions))  # nobody logged in
    sender = conversation()
    say(servers, sender, question)
    say(servers, sender, "talk to a human")
    if email:
        say(servers, sender, f"my email is {email}")
    assert store.active_for(sender).ticket
    return sender


def emails_of(agent, hid, until, timeout=30.0):
    """The ticket's replies as the console shows them, once ``until(replies)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        replies = agent.get(f"/handoffs/{hid}/messages").json()["emails"]
        if until(replies) or time.monotonic() > deadline:
            return replies
        time.sleep(0.2)


@pytest.fixture
def mailbox():
    box = Mailbox(SMTP_PORT)
    yield box
    try:
        box.stop()
    except Exception:  # never started
        pass


def test_an_agent_replies_to_a_ticket_and_the_mail_arrives_with_the_conversation(servers, store, mailbox):  # noqa: F811
    mailbox.start()
    sender = ticket(servers, store)
    agent = console(servers)
    hid = handoff_of(agent, sender)["id"]
    no_csrf = console(servers)
    no_csrf.headers.pop("X-CSRF-Token")
    assert no_csrf.post(f"/handoffs/{hid}/email", json={"text": REPLY}).status_code == 403
    r = agent.post(f"/handoffs/{hid}/email", json={"text": REPLY})
    assert r.status_code == 200, r.text
    assert r.json()["email"]["state"] == "queued" and r.json()["email"]["to"] == "jo.doe@example.com"
    [(mail_from, rcpts, message)] = mailbox.wait()
    assert (mail_from, rcpts) == ("support@brightcart.test", ["jo.doe@example.com"])
    assert (message["From"], message["To"]) == (SMTP_FROM, "jo.doe@example.com")
    assert message["Subject"] == "Re: where is my parcel?"
    body = message.get_content()
    assert body.startswith(REPLY) and "ana, customer support" in body
    assert "> where is my parcel?" in body and "> talk to a human" in body
    assert "> my email is [email]" in body and "jo.doe@example.com" not in body  # masked like the packet
    [sent] = emails_of(agent, hid, lambda rows: rows and rows[0]["state"] == "sent")
    assert sent["state"] == "sent" and sent["attempts"] == 1 and sent["error"] is None
    # the customer comes back to the conversation: the reply is there, marked as from a person
    back = poll(servers, sender)
    assert [(m["text"], m.get("custom")) for m in back] == [(REPLY, {"from": "agent", "agent": "ana"})]
    widget = SocketCustomer(servers, sender, history=True)
    try:
        lines = widget.history.get(timeout=10)
    finally:
        widget.close()
    assert {"from": "agent", "text": REPLY, "agent": "ana"} in lines
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200


def test_a_reply_while_the_mail_server_is_down_shows_the_failure_and_is_delivered_later(
        servers, store, mailbox):  # noqa: F811
    sender = ticket(servers, store)
    agent = console(servers)
    hid = handoff_of(agent, sender)["id"]
    assert agent.post(f"/handoffs/{hid}/email", json={"text": "Sorry for the wait."}).status_code == 200
    [failing] = emails_of(agent, hid, lambda rows: rows and rows[0]["attempts"] >= 1)
    assert failing["state"] == "retrying" and "ConnectionRefusedError" in failing["error"]
    assert failing["next_attempt_at"]
    detail = agent.get(f"/handoffs/{hid}").json()
    assert detail["emails"][0]["state"] == "retrying"  # on the ticket's own view too
    mailbox.start()  # the server is back: the worker's next try delivers it
    [(_, _, message)] = mailbox.wait(timeout=30)
    assert message.get_content().startswith("Sorry for the wait.")
    [sent] = emails_of(agent, hid, lambda rows: rows[0]["state"] == "sent")
    assert sent["state"] == "sent" and sent["attempts"] >= 2 and sent["error"] is None
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200


def test_a_ticket_without_an_address_or_a_live_chat_is_refused_clearly_and_nothing_is_stored(
        servers, store, mailbox):  # noqa: F811
    sender = ticket(servers, store, email=None)
    agent = console(servers)
    hid = handoff_of(agent, sender)["id"]
    r = agent.post(f"/handoffs/{hid}/email", json={"text": "Hello?"})
    assert r.status_code == 409 and "no email address" in r.json()["error"] and "not sent" in r.json()["error"]
    detail = agent.get(f"/handoffs/{hid}").json()
    assert detail["emails"] == [] and [m for m in detail["messages"] if m["role"] == "agent"] == []
    assert poll(servers, sender) == []
    assert agent.post(f"/handoffs/{hid}/email", json={"text": ""}).status_code == 400
    live = conversation()
    say(servers, live, "talk to a human")  # ana is online now: a live chat
    live_id = handoff_of(agent, live)["id"]
    r = agent.post(f"/handoffs/{live_id}/email", json={"text": "Hello?"})
    assert r.status_code == 409 and "live chat" in r.json()["error"]
    for h in (hid, live_id):
        agent.post(f"/handoffs/{h}/abandon")
