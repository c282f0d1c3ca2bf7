"""The webhook outbox (table ``webhook_outbox``): a delivery is stored in the same moment as what it
reports, and stays until a receiver acknowledges it."""

from __future__ import annotations

import json
from datetime import datetime
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


class Outbox:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[outbox])

    def enqueue_webhook(self, idempotency_key: str, url: str, body: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key,
                                                               outbox.c.url == url)).first()
            if exists is None:
                conn.execute(outbox.insert().values(idempotency_key=idempotency_key, url=url,
                                                    body=json.dumps(body), attempts=0,
                                                    next_attempt_at=utcnow()))

    def due_webhooks(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.delivered_at.is_(None),
                                                        outbox.c.next_attempt_at <= utcnow())
                                .order_by(outbox.c.id).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def webhook_delivered(self, outbox_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == outbox_id)
                         .values(delivered_at=utcnow(), attempts=outbox.c.attempts + 1, last_error=None))

    def webhook_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == outbox_id)
                         .values(attempts=outbox.c.attempts + 1, last_error=error[:2000],
                                 next_attempt_at=retry_at))

    def webhook_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).all()]
