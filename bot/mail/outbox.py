"""The e-mail outbox (table ``email_outbox``): an agent's reply to a ticket is stored with the
agent's message in one transaction, then sent by the background worker (``bot.mail.smtp``).

Each reply's state, as the console shows it on the ticket:

- ``queued``: not tried yet;
- ``retrying``: the last attempt failed (its error and the attempt count are kept) and the next one
  is scheduled, with back-off;
- ``failed``: the server refused it for good, or ``SUPPORTBOT_SMTP_MAX_ATTEMPTS`` attempts failed;
  nothing is lost: an agent can send it again;
- ``sent``: the SMTP server accepted it.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from bot.db import aware, metadata, utcnow
from bot.events.outbox import DeliveryQueue, delivery_columns
from bot.handoff.store import handoffs  # the foreign key's table, also in processes that open no hand-off

QUEUED, RETRYING, FAILED, SENT = "queued", "retrying", "failed", "sent"

emails = sa.Table(
    "email_outbox", metadata,
    *delivery_columns(),
    sa.Column("handoff_id", sa.String(32), sa.ForeignKey(handoffs.c.id), nullable=False, index=True),
    sa.Column("handoff_message_id", sa.Integer),  # the agent's message in handoff_messages
    sa.Column("agent", sa.String(64), nullable=False),
    sa.Column("to_address", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),  # the whole message as sent (RFC 5322)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def state_of(row: dict[str, Any]) -> str:
    if row["delivered_at"] is not None:
        return SENT
    if row["next_attempt_at"] is None:
        return FAILED
    return RETRYING if row["attempts"] else QUEUED


def public(row: dict[str, Any]) -> dict[str, Any]:
    """What the console shows of one reply (JSON)."""
    def iso(key: str) -> str | None:
        return aware(row[key]).isoformat() if row[key] is not None else None

    return {"id": row["id"], "state": state_of(row), "to": row["to_address"], "subject": row["subject"],
            "agent": row["agent"], "attempts": row["attempts"], "error": row["last_error"],
            "created_at": iso("created_at"), "next_attempt_at": iso("next_attempt_at"),
            "sent_at": iso("delivered_at"), "message_id": row["handoff_message_id"]}


class MailOutbox:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        self.queue = DeliveryQueue(engine, emails)

    def enqueue(self, conn: sa.engine.Connection, handoff_id: str, message_id: int | None, agent: str,
                message: EmailMessage) -> int:
        """In the caller's transaction, so the reply and its e-mail are stored together or not at all."""
        now = utcnow()
        result = conn.execute(emails.insert().values(
            handoff_id=handoff_id, handoff_message_id=message_id, agent=agent, to_address=str(message["To"]),
            subject=str(message["Subject"]), message=message.as_string(), created_at=now, attempts=0,
            next_attempt_at=now))
        return int(result.inserted_primary_key[0])

    def get(self, email_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(emails).where(emails.c.id == email_id)).first()
        return dict(row._mapping) if row else None

    def for_handoff(self, handoff_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(emails).where(emails.c.handoff_id == handoff_id)
                                .order_by(emails.c.id)).all()
        return [public(dict(r._mapping)) for r in rows]
