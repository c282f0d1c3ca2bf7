"""Replies to tickets by e-mail: who may reply, to which address, with what (the reply and the
conversation so far, masked as the hand-off packet is for other systems), stored with the agent's
message in one transaction and sent by the background worker (``bot.mail``).

A ticket is a hand-off queued while nobody could take it live (``Handoff.ticket``). Refusals are
``HandoffError``s that say what to do; a refused reply is not stored anywhere, so the console keeps
it in the reply box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.db import utcnow
from bot.handoff.redact import redact
from bot.handoff.states import ACTIVE, ASSIGNED, HandoffError, HandoffNotFound, InvalidTransition
from bot.handoff.store import Handoff, HandoffStore, Message
from bot.mail.address import address_problem
from bot.mail.compose import Line, compose, subject_for
from bot.mail.outbox import FAILED, MailOutbox, public
from bot.settings import Settings

BOT_NAME = "Support assistant"
MASKED = "[email]"  # how bot.privacy.at_rest stores an address it masks


class NotATicket(HandoffError):
    pass


class NoEmailAddress(HandoffError):
    pass


class EmailNotConfigured(HandoffError):
    pass


@dataclass
class EmailReply:
    handoff: Handoff
    message: Message
    email: dict[str, Any]


class TicketReplies:
    def __init__(self, store: HandoffStore, settings: Settings, outbox: MailOutbox | None = None):
        self.store, self.settings = store, settings
        self.outbox = outbox or MailOutbox(store.engine)

    def check(self, h: Handoff, agent: str) -> str:
        """The address this agent may reply to now, or the HandoffError saying why not."""
        if not h.ticket:
            raise NotATicket(f"hand-off {h.id} is a live chat: reply in the chat, not by email")
        if h.state not in ACTIVE:
            raise InvalidTransition(h.id, h.state, "replied to by email")
        if h.state == ASSIGNED and h.agent != agent:
            raise InvalidTransition(h.id, h.state, "replied to by you", h.agent)
        settings = self.settings
        if not settings.smtp_host or not settings.smtp_from:
            raise EmailNotConfigured("email replies are not set up: an operator sets SUPPORTBOT_SMTP_HOST and "
                                     "SUPPORTBOT_SMTP_FROM (docs/operators.md). Your reply was not sent.")
        email = h.customer_email
        if not email:
            raise NoEmailAddress("this ticket has no email address: the customer has not given one. Your "
                                 "reply was not sent; it can be once they leave their address in the chat.")
        if email == MASKED:
            raise NoEmailAddress("this ticket's email address was masked before it was stored "
                                 "(SUPPORTBOT_MASK_AT_REST includes email), so it cannot be emailed. "
                                 "Your reply was not sent.")
        problem = address_problem(email)
        if problem:
            raise NoEmailAddress(f"this ticket's email address cannot be used: {problem}. "
                                 "Your reply was not sent.")
        return email

    def lines(self, h: Handoff) -> list[Line]:
        """The conversation so far with emails, phone, card and IBAN numbers masked."""
        region = self.settings.phone_region

        def who(role: str, author: str | None) -> str:
            return {"customer": "You", "bot": BOT_NAME}.get(role) or author or "Our support team"

        said = [Line(who(t.role.value, t.author), t.at, redact(t.text, region=region))
                for t in h.packet.transcript]
        return said + [Line(who(m.role, m.author), m.at, redact(m.text, region=region))
                       for m in self.store.messages(h.id) if m.role != "system"]

    def reply(self, handoff_id: str, agent: str, text: str) -> EmailReply:
        store, settings = self.store, self.settings
        h = store.get(handoff_id)
        to = self.check(h, agent)
        message = compose(to, settings.smtp_from, subject_for(h.packet.summary.first_question), text, agent,
                          self.lines(h), utcnow())
        with store.engine.begin() as conn:  # the agent's message and its e-mail, together or not at all
            stored = store.add_message(h.id, "agent", text, author=agent, conn=conn)
            email_id = self.outbox.enqueue(conn, h.id, stored.id, agent, message)
        email = self.outbox.get(email_id)
        assert email is not None
        return EmailReply(h, stored, public(email))

    def emails(self, handoff_id: str) -> list[dict[str, Any]]:
        return self.outbox.for_handoff(handoff_id)

    def send_again(self, handoff_id: str, email_id: int) -> dict[str, Any]:
        """A reply that failed for good is tried again now (after the address or server was fixed)."""
        row = self.outbox.get(email_id)
        if row is None or row["handoff_id"] != handoff_id:
            raise HandoffNotFound(f"hand-off {handoff_id} has no email reply {email_id}")
        if not self.outbox.queue.again(email_id):
            raise HandoffError(f"email reply {email_id} has not failed: it is {public(row)['state']}; "
                               f"only a {FAILED} one is sent again")
        fresh = self.outbox.get(email_id)
        assert fresh is not None
        return public(fresh)
