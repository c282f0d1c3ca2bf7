"""The agents' desk around a hand-off: internal notes, transfer to another agent, and the customer's
earlier hand-offs, with the rules of who may.

A note is a hand-off message with the role ``note`` (``HandoffStore.messages`` leaves notes out
unless asked), so nothing that delivers to a customer or another system reads one. A transfer
changes the holder in one conditional UPDATE (``HandoffStore.reassign``), so exactly one of two
changes at once wins, and is recorded as an assigned -> assigned transition naming the new holder.

Earlier hand-offs are found only by what the customer cannot choose for someone else: the same
conversation id (for a site's signed-in customer, ``u-...``, derived from the JWT's subject). Not by
the email address they typed: anyone can type anyone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bot.access.conversations import USER_PREFIX
from bot.errors import FieldError
from bot.handoff.service import HandoffService
from bot.handoff.states import ASSIGNED, HandoffError, InvalidTransition
from bot.handoff.store import NOTE, Handoff, Message, handoffs
from bot.staff.accounts import ADMIN, AGENT

MAX_NOTE_CHARS = 2000
MAX_EARLIER = 20
SAME_CONVERSATION, SIGNED_IN = "same conversation", "signed-in customer"


class NotAllowed(HandoffError):
    """The agent may not do this; the message says who may."""


class BadInput(FieldError):
    """A request's value that cannot be used (413 when it is too long)."""


@dataclass
class Earlier:
    handoff: Handoff
    match: str  # SAME_CONVERSATION or SIGNED_IN


def clean_text(value: Any, field: str, limit: int, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise BadInput(field, f"{field} must be a string")
    if required and not text:
        raise BadInput(field, f"send a JSON body with a non-empty {field}")
    if len(text) > limit:
        raise BadInput(field, f"{field} can have at most {limit} characters; this one has {len(text)}", 413)
    return text


class Desk:
    def __init__(self, service: HandoffService):
        self.service = service
        self.store = service.store

    def note(self, handoff_id: str, author: str, text: str) -> Message:
        """Any agent or admin may note on any hand-off, open or finished."""
        self.store.get(handoff_id)  # HandoffNotFound
        return self.store.add_message(handoff_id, NOTE, text, author=author)

    def candidates(self, me: str) -> list[dict[str, Any]]:
        """Accounts that may take hand-offs (agents, admins) other than ``me``: online ones first."""
        online = set(self.service.agents_online())
        rows = [{"name": n, "role": r, "online": n in online}
                for n, r in self.service.staff.accounts() if r in (AGENT, ADMIN) and n != me]
        return sorted(rows, key=lambda r: (not r["online"], r["name"]))

    def transfer(self, handoff_id: str, actor: str, actor_role: str, to: str, note: str) -> Handoff:
        """The holder (or an admin) hands an assigned hand-off to another agent, with a note."""
        h = self.store.get(handoff_id)
        if h.state != ASSIGNED or h.agent is None:
            raise InvalidTransition(handoff_id, h.state, "transferred (claim it first)")
        if h.agent != actor and actor_role != ADMIN:
            raise NotAllowed(f"only {h.agent}, who holds this hand-off, or an admin may transfer it")
        roles = dict(self.service.staff.accounts())
        if roles.get(to) not in (AGENT, ADMIN):
            raise BadInput("to", f"{to!r} is not an agent or admin account: pick one from the list")
        if to == h.agent:
            raise BadInput("to", f"{to} holds this hand-off already: pick another agent")
        return self.store.reassign(handoff_id, h.agent, to, actor,
                                   note=f"Transferred from {h.agent} to {to}" + (f": {note}" if note else "."))

    def earlier(self, h: Handoff) -> list[Earlier]:
        """The customer's other hand-offs, newest first (the current one left out): only those of
        the same conversation, which a signed-in customer keeps on every device. Never by an email
        address: the customer types it, so anyone could type someone else's and have the agent see
        (and perhaps read out) that person's hand-offs."""
        c = handoffs.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(handoffs).where(c.conversation_id == h.conversation_id, c.id != h.id)
                                .order_by(c.created_at.desc()).limit(MAX_EARLIER)).all()
        match = SIGNED_IN if h.conversation_id.startswith(USER_PREFIX) else SAME_CONVERSATION
        return [Earlier(Handoff.from_row(row), match) for row in rows]
