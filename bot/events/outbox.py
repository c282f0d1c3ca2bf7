"""Outboxes: a delivery is stored in the same moment as what it reports, and stays until it is done.

``DeliveryQueue`` is the part every outbox shares (which rows are due, done, failed, given up), over
any table with the columns of ``delivery_columns()``; ``bot.events.retry`` drains one with back-off.
The webhook outbox (table ``webhook_outbox``) is ``Outbox``; the e-mail outbox is ``bot.mail.outbox``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.db import metadata, utcnow

outbox = sa.Table(
    "webhook_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(96), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("idempotency_key", "url"),
)


def delivery_columns() -> list[sa.Column]:
    """The columns a new outbox table needs for ``DeliveryQueue``: ``next_attempt_at`` is NULL once
    the sender gave up (the row stays, with its error, until someone sends it again)."""
    return [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("attempts", sa.Integer, nullable=False, default=0),
            sa.Column("next_attempt_at", sa.DateTime(timezone=True), index=True),
            sa.Column("delivered_at", sa.DateTime(timezone=True)),
            sa.Column("last_error", sa.Text)]


CLAIM_SECONDS = 120.0  # a claimed row is due again after this long unless its sender reports back


class DeliveryQueue:
    """Due, delivered and failed rows of one outbox table.

    On PostgreSQL several workers (one per node) drain one table: ``claim`` takes the due rows
    (``FOR UPDATE SKIP LOCKED``, then their next attempt moved ``CLAIM_SECONDS`` ahead), so each row
    goes to one sender; a sender that dies leaves its rows to be tried again after the claim. SQLite
    (one node, one worker) returns the due rows as they are."""

    def __init__(self, engine: sa.engine.Engine, table: sa.Table):
        self.engine, self.table = engine, table
        metadata.create_all(engine, tables=[*{fk.column.table for fk in table.foreign_keys}, table])

    def _due_query(self, limit: int) -> sa.sql.Select:
        t = self.table
        return (sa.select(t).where(t.c.delivered_at.is_(None), t.c.next_attempt_at <= utcnow())
                .order_by(t.c.id).limit(limit))

    def due(self, limit: int = 20) -> list[dict[str, Any]]:
        """The rows due now (a look: nothing is claimed)."""
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(self._due_query(limit)).all()]

    def claim(self, limit: int = 20) -> list[dict[str, Any]]:
        """The rows due now, for this sender alone (PostgreSQL); on SQLite the same as ``due``."""
        if self.engine.dialect.name != "postgresql":
            return self.due(limit)
        t, query = self.table, self._due_query(limit)
        with self.engine.begin() as conn:
            rows = conn.execute(query.with_for_update(skip_locked=True)).all()
            if rows:
                conn.execute(t.update().where(t.c.id.in_([r.id for r in rows]))
                             .values(next_attempt_at=utcnow() + timedelta(seconds=CLAIM_SECONDS)))
        return [dict(r._mapping) for r in rows]

    def delivered(self, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id == row_id)
                         .values(delivered_at=utcnow(), attempts=self.table.c.attempts + 1, last_error=None))

    def failed(self, row_id: int, error: str, retry_at: datetime | None) -> None:
        """One more failed attempt; ``retry_at`` None: given up (only for tables that allow it)."""
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id == row_id)
                         .values(attempts=self.table.c.attempts + 1, last_error=error[:2000],
                                 next_attempt_at=retry_at))

    def again(self, row_id: int) -> bool:
        """Send a row that was given up on again, now; False when it is not given up."""
        t = self.table
        with self.engine.begin() as conn:
            return conn.execute(t.update().where(t.c.id == row_id, t.c.delivered_at.is_(None),
                                                 t.c.next_attempt_at.is_(None))
                                .values(next_attempt_at=utcnow())).rowcount == 1

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.table).order_by(self.table.c.id)).all()
        return [dict(r._mapping) for r in rows]


class Outbox:
    """The webhook outbox: one row per (event, receiver), retried until a receiver acknowledges it."""

    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        self.queue = DeliveryQueue(engine, outbox)

    def enqueue_webhook(self, idempotency_key: str, url: str, body: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key,
                                                               outbox.c.url == url)).first()
            if exists is None:
                conn.execute(outbox.insert().values(idempotency_key=idempotency_key, url=url,
                                                    body=json.dumps(body), attempts=0,
                                                    next_attempt_at=utcnow()))

    def due_webhooks(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.queue.due(limit)

    def webhook_delivered(self, outbox_id: int) -> None:
        self.queue.delivered(outbox_id)

    def webhook_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        self.queue.failed(outbox_id, error, retry_at)

    def webhook_rows(self) -> list[dict[str, Any]]:
        return self.queue.rows()
