"""The ``canned_replies`` table (any SQLAlchemy URL, next to the hand-off tables) and its rules:
a name of 1-40 characters ``[a-z0-9-]``, unique; a text of 1-2000 characters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.db import aware, metadata, utcnow
from bot.errors import FieldError

NAME = re.compile(r"[a-z0-9-]{1,40}")
MAX_TEXT = 2000

canned_replies = sa.Table(
    "canned_replies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class CannedError(FieldError):
    """Input that is not a canned reply: ``field`` names what to fix."""


class NameTaken(CannedError):
    """Another canned reply already has this name."""

    status = 409


class CannedNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Canned:
    id: int
    name: str
    text: str
    updated_by: str
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "text": self.text, "updated_by": self.updated_by,
                "updated_at": self.updated_at.isoformat()}


def checked(body: Any) -> tuple[str, str]:
    """(name, text) of a JSON body, or the :class:`CannedError` that names the field to fix."""
    if not isinstance(body, dict):
        raise CannedError("body", 'body: send a JSON object {"name": "...", "text": "..."}')
    name, text = body.get("name"), body.get("text")
    if not isinstance(name, str) or not NAME.fullmatch(name.strip()):
        raise CannedError("name", "name: 1-40 characters, lower-case letters, digits and '-' only "
                                  "(e.g. 'refund-policy')")
    if not isinstance(text, str) or not text.strip():
        raise CannedError("text", "text: the reply's text, not empty")
    if len(text.strip()) > MAX_TEXT:
        raise CannedError("text", f"text: at most {MAX_TEXT} characters (this one has {len(text.strip())})")
    return name.strip(), text.strip()


class CannedStore:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[canned_replies])

    def all(self) -> list[Canned]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(canned_replies).order_by(canned_replies.c.name)).mappings().all()
        return [_canned(r) for r in rows]

    def create(self, body: Any, author: str) -> Canned:
        name, text = checked(body)
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(canned_replies.insert().values(
                    name=name, text=text, updated_by=author, updated_at=utcnow())).inserted_primary_key[0]
        except sa.exc.IntegrityError:
            raise _taken(name) from None
        return self.get(int(new_id))

    def update(self, canned_id: int, body: Any, author: str) -> Canned:
        name, text = checked(body)
        try:
            with self.engine.begin() as conn:
                done = conn.execute(canned_replies.update().where(canned_replies.c.id == canned_id).values(
                    name=name, text=text, updated_by=author, updated_at=utcnow())).rowcount
        except sa.exc.IntegrityError:
            raise _taken(name) from None
        if not done:
            raise CannedNotFound(f"no canned reply {canned_id}")
        return self.get(canned_id)

    def delete(self, canned_id: int) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(canned_replies.delete().where(canned_replies.c.id == canned_id)).rowcount:
                raise CannedNotFound(f"no canned reply {canned_id}")

    def get(self, canned_id: int) -> Canned:
        with self.engine.connect() as conn:
            query = sa.select(canned_replies).where(canned_replies.c.id == canned_id)
            row = conn.execute(query).mappings().first()
        if row is None:
            raise CannedNotFound(f"no canned reply {canned_id}")
        return _canned(row)


def _taken(name: str) -> NameTaken:
    return NameTaken("name", f"name: a canned reply named '{name}' already exists; choose another name "
                             "or edit that one")


def _canned(row: Any) -> Canned:
    return Canned(row["id"], row["name"], row["text"], row["updated_by"], aware(row["updated_at"]))
