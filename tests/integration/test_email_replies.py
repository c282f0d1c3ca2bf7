"""Agents' e-mail replies to tickets against a real SMTP server on loopback (aiosmtpd): what arrives,
a server that is down or refuses, TLS and login, and replies refused before anything is stored."""

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.db import utcnow
from bot.handoff.packet import Reason, build_packet
from bot.handoff.states import InvalidTransition
from bot.handoff.store import HandoffStore, messages
from bot.handoff.tickets import EmailNotConfigured, NoEmailAddress, NotATicket, TicketReplies
from bot.mail.outbox import MailOutbox, emails
from bot.mail.smtp import MailSender
from bot.settings import Settings
from tests.handoff_events import EVENTS
from tests.smtp_server import Mailbox, free_port, self_signed

FROM = "Brightcart support <support@brightcart.test>"


@pytest.fixture
def store(tmp_path):
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}")


def smtp_settings(tmp_path, port, **extra):
    return Settings(root=tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_tls=extra.pop("tls", "none"),
                    smtp_from=FROM, **extra)


def ticket(store, conversation="c1", events=EVENTS, slots=None):
    h, _ = store.open(build_packet(conversation, events, slots or {}, Reason.user_request), ticket=True)
    return h


def sender(store, settings):
    return MailSender(MailOutbox(store.engine), settings, base_delay=0.05)


def test_the_reply_arrives_with_to_from_subject_text_and_the_masked_conversation(store, tmp_path):
    box = Mailbox().start()
    try:
        settings = smtp_settings(tmp_path, box.port)
        h = ticket(store)
        assert h.customer_email == "jo@example.com"
        store.add_message(h.id, "customer", "my phone is +1 415 555 2671 if that helps")
        sent = TicketReplies(store, settings).reply(h.id, "ana", "Hi Jo, your parcel left our depot today.")
        assert sent.email["state"] == "queued" and sent.email["to"] == "jo@example.com"
        assert sender(store, settings).deliver_due() == 1
        [(mail_from, rcpts, message)] = box.wait()
    finally:
        box.stop()
    assert (mail_from, rcpts) == ("support@brightcart.test", ["jo@example.com"])
    assert message["To"] == "jo@example.com" and message["From"] == FROM
    assert message["Subject"] == "Re: where is my parcel?"
    body = message.get_content()
    assert body.startswith("Hi Jo, your parcel left our depot today.")
    assert "ana, customer support" in body
    for said in ("> where is my parcel?", "> Use the tracking link in your email.",
                 "> I want to talk to a human", "> it says delivered but nothing came, mail me at [email]",
                 "> my phone is [phone] if that helps"):
        assert said in body, said
    assert "jo@example.com" not in body and "555 2671" not in body  # masked as the packet is
    [row] = TicketReplies(store, settings).emails(h.id)
    assert row["state"] == "sent" and row["attempts"] == 1 and row["sent_at"] and row["error"] is None
    # the agent's message is in the hand-off's messages, linked to its e-mail
    [agent_line] = [m for m in store.messages(h.id) if m.role == "agent"]
    assert (agent_line.author, agent_line.id) == ("ana", row["message_id"])


def test_a_server_that_is_down_shows_as_retrying_and_the_retry_delivers_later(store, tmp_path):
    port = free_port()  # nothing listens there yet
    settings = smtp_settings(tmp_path, port)
    h = ticket(store)
    replies = TicketReplies(store, settings)
    replies.reply(h.id, "ana", "Your refund is on its way.")
    worker = sender(store, settings)
    assert worker.deliver_due() == 0
    [row] = replies.emails(h.id)
    assert row["state"] == "retrying" and row["attempts"] == 1
    assert "ConnectionRefusedError" in row["error"] and row["next_attempt_at"]
    box = Mailbox(port).start()
    try:
        deadline = time.monotonic() + 15
        while worker.deliver_due() == 0 and time.monotonic() < deadline:  # back-off: 0.05 s, 0.1 s, ...
            time.sleep(0.05)
        [(_, _, message)] = box.wait()
    finally:
        box.stop()
    assert "Your refund is on its way." in message.get_content()
    [row] = replies.emails(h.id)
    assert row["state"] == "sent" and row["attempts"] >= 2 and row["error"] is None


def test_a_permanent_refusal_fails_at_once_with_the_servers_answer_and_can_be_sent_again(store, tmp_path):
    box = Mailbox(refuse="550 5.1.1 mailbox unavailable").start()
    try:
        settings = smtp_settings(tmp_path, box.port)
        h = ticket(store)
        replies = TicketReplies(store, settings)
        sent = replies.reply(h.id, "ana", "Hello again")
        worker = sender(store, settings)
        worker.deliver_due()
        [row] = replies.emails(h.id)
        assert row["state"] == "failed" and row["attempts"] == 1 and row["next_attempt_at"] is None
        assert "550" in row["error"] and "mailbox unavailable" in row["error"]
        worker.deliver_due()
        assert replies.emails(h.id)[0]["attempts"] == 1  # given up: not tried again by itself
        box.refuse = None  # the mailbox was fixed; an agent sends it again
        again = replies.send_again(h.id, sent.email["id"])
        assert again["state"] == "retrying" and "550" in again["error"]  # due now; the last error shown
        with pytest.raises(Exception, match="has not failed"):
            replies.send_again(h.id, sent.email["id"])
        assert worker.deliver_due() == 1
        box.wait()
    finally:
        box.stop()
    assert replies.emails(h.id)[0]["state"] == "sent"


def test_after_the_last_attempt_a_temporary_failure_becomes_failed(store, tmp_path):
    settings = smtp_settings(tmp_path, free_port(), smtp_max_attempts=2)
    h = ticket(store)
    replies = TicketReplies(store, settings)
    replies.reply(h.id, "ana", "Hello")
    worker = sender(store, settings)
    worker.deliver_due()
    assert replies.emails(h.id)[0]["state"] == "retrying"
    with store.engine.begin() as conn:  # the back-off has passed
        conn.execute(emails.update().values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    worker.deliver_due()
    row = replies.emails(h.id)[0]
    assert (row["state"], row["attempts"]) == ("failed", 2) and "ConnectionRefusedError" in row["error"]


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_tls_and_login(store, tmp_path, monkeypatch, tls):
    cert = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # the client trusts the throw-away certificate
    box = Mailbox(tls=tls, cert=cert, login=("bot", "s3cret-pass")).start()
    try:
        settings = Settings(root=tmp_path, smtp_host="localhost", smtp_port=box.port, smtp_tls=tls,
                            smtp_user="bot", smtp_password="s3cret-pass", smtp_from=FROM)
        h = ticket(store)
        TicketReplies(store, settings).reply(h.id, "ana", "Over TLS")
        assert sender(store, settings).deliver_due() == 1
        assert "Over TLS" in box.wait()[0][2].get_content()
        wrong = Settings(root=tmp_path, smtp_host="localhost", smtp_port=box.port, smtp_tls=tls,
                         smtp_user="bot", smtp_password="wrong", smtp_from=FROM, smtp_timeout=2)
        TicketReplies(store, wrong).reply(h.id, "ana", "Wrong password")
        assert sender(store, wrong).deliver_due() == 0
        row = TicketReplies(store, wrong).emails(h.id)[-1]
        assert row["state"] == "retrying" and row["error"]  # an operator can fix it: retried
        assert len(box.messages) == 1
    finally:
        box.stop()


def test_starttls_is_never_silently_skipped(store, tmp_path):
    box = Mailbox().start()  # offers no STARTTLS
    try:
        settings = smtp_settings(tmp_path, box.port, tls="starttls")
        h = ticket(store)
        TicketReplies(store, settings).reply(h.id, "ana", "secret")
        assert sender(store, settings).deliver_due() == 0
        assert box.messages == []
        assert "STARTTLS" in TicketReplies(store, settings).emails(h.id)[0]["error"]
    finally:
        box.stop()


def count(store, table):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_refused_replies_store_nothing_and_say_why(store, tmp_path):
    settings = smtp_settings(tmp_path, free_port())
    replies = TicketReplies(store, settings)
    no_email = [e for e in EVENTS if "jo@example.com" not in (e.get("text") or "")]
    anonymous = ticket(store, "anonymous", no_email)
    assert anonymous.customer_email is None
    with pytest.raises(NoEmailAddress, match="no email address.*not sent"):
        replies.reply(anonymous.id, "ana", "Hello?")
    live, _ = store.open(build_packet("live", EVENTS, {}, Reason.user_request))
    with pytest.raises(NotATicket, match="live chat"):
        replies.reply(live.id, "ana", "Hello?")
    with pytest.raises(EmailNotConfigured, match="SUPPORTBOT_SMTP_HOST"):
        TicketReplies(store, Settings(root=tmp_path)).reply(ticket(store, "c2").id, "ana", "Hello?")
    taken = ticket(store, "c3")
    store.transition(taken.id, "assigned", agent="bo")
    with pytest.raises(InvalidTransition, match="assigned by bo"):
        replies.reply(taken.id, "ana", "Hello?")
    store.set_customer_email(anonymous.id, "jo@example.com")
    masked = HandoffStore(store.engine)
    with store.engine.begin() as conn:  # an address masked at rest (SUPPORTBOT_MASK_AT_REST=email)
        conn.execute(sa.text("UPDATE handoffs SET customer_email='[email]' WHERE id=:i"), {"i": anonymous.id})
    with pytest.raises(NoEmailAddress, match="masked"):
        TicketReplies(masked, settings).reply(anonymous.id, "ana", "Hello?")
    assert count(store, emails) == 0 and count(store, messages) == 0


def test_no_header_injection_through_the_question_or_the_address(store, tmp_path):
    hostile = "where is my parcel?\r\nBcc: thief@evil.test\r\n\r\nforged body"
    events = [dict(e, text=hostile) if e.get("text") == "where is my parcel?" else e for e in EVENTS]
    box = Mailbox().start()
    try:
        settings = smtp_settings(tmp_path, box.port)
        h = ticket(store, "c1", events, slots={"customer_email": "jo@example.com"})  # as the bot asked
        TicketReplies(store, settings).reply(h.id, "ana", "Hi")
        sender(store, settings).deliver_due()
        [(_, rcpts, message)] = box.wait()
    finally:
        box.stop()
    assert rcpts == ["jo@example.com"] and message["Bcc"] is None
    assert message["Subject"] == "Re: where is my parcel? Bcc: thief@evil.test forged body"
    with pytest.raises(ValueError, match="not an email address"):
        store.set_customer_email(h.id, "jo@example.com\r\nBcc: thief@evil.test")
