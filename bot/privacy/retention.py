"""How long what customers said is kept, and erasing it on request, across every store:
conversations (Rasa's ``events`` table), hand-offs with their messages and transitions, the
customer feed, the webhook outbox and the editors' inbox of unanswered questions (with what
editors did with them).
``supportbot purge`` and ``supportbot forget`` print what these return. SQLite or PostgreSQL
alike (plain SQLAlchemy Core, no Rasa import).

Purging keeps what a running bot still reads: a conversation idle for longer than the period goes
whole, an active one loses only its sessions that ended before it (Rasa reads the latest session
only). A hand-off goes once it ended before the period; an open one is kept, however old.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.db import engine, metadata, tracker_events, utcnow
from bot.delivery.feed import feed
from bot.events.outbox import outbox
from bot.handoff.customer_input import is_email
from bot.handoff.states import FINAL
from bot.handoff.store import handoffs, messages, transitions
from bot.inbox.figures import faq_answers
from bot.inbox.store import answer_votes, inbox_actions, inbox_handled, unanswered
from bot.mail.outbox import emails
from bot.settings import Settings

_AGE = re.compile(r"\s*(\d+)\s*([dh])\s*", re.IGNORECASE)
_CHUNK = 500  # ids per IN (...) list


def parse_age(raw: str) -> timedelta:
    """``"90d"`` or ``"12h"`` (whole days or hours, more than zero)."""
    m = _AGE.fullmatch(raw or "")
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"--older-than takes a whole number of days or hours, such as 90d or 12h; got {raw!r}")
    n = int(m.group(1))
    return timedelta(days=n) if m.group(2).lower() == "d" else timedelta(hours=n)


def check_email(raw: str) -> str:
    address = (raw or "").strip()
    if not is_email(address):
        raise ValueError(f"--email takes an email address such as name@example.com; got {raw!r}")
    return address


@dataclass
class Deleted:
    """Rows deleted per store (or that would be, in a dry run)."""

    conversations: int = 0  # whole conversations removed from the tracker
    tracker_events: int = 0
    handoffs: int = 0
    handoff_messages: int = 0
    handoff_transitions: int = 0
    feed_messages: int = 0
    webhook_deliveries: int = 0
    email_replies: int = 0  # agents' e-mail replies to tickets (email_outbox), with the hand-off
    inbox_questions: int = 0
    open_handoffs_kept: int = 0  # purge only: older than the period but still open
    conversation_ids: list[str] = field(default_factory=list)  # forget only: who was erased

    def add(self, other: Deleted) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.conversation_ids += other.conversation_ids


class Retention:
    """``tracker`` holds Rasa's events table (None: no conversations stored yet); ``handoffs`` our
    own tables."""

    def __init__(self, tracker: sa.engine.Engine | None, handoff_engine: sa.engine.Engine):
        self.tracker = tracker
        self.handoff_engine = handoff_engine
        metadata.create_all(handoff_engine, tables=[handoffs, transitions, messages, feed, outbox, emails,
                                                    unanswered, answer_votes, inbox_actions, inbox_handled,
                                                    faq_answers])

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        if settings.tracker_url:
            tracker: sa.engine.Engine | None = engine(settings.tracker_url)
        else:
            path = settings.path(Path(settings.tracker_db))
            tracker = engine(f"sqlite:///{path}") if path.exists() else None
        return cls(tracker, engine(settings.handoff_db_url))

    # -- purge ----------------------------------------------------------------------------------
    def purge(self, older_than: timedelta, now: datetime | None = None, dry_run: bool = False) -> Deleted:
        if older_than <= timedelta(0):
            raise ValueError("the retention period must be longer than zero")
        cutoff = (now or utcnow()) - older_than
        done = Deleted()
        with self._tracker_transaction(dry_run) as conn:
            if conn is not None:
                self._purge_tracker(conn, cutoff.timestamp(), done)
        with _transaction(self.handoff_engine, dry_run) as conn:
            old = conn.execute(sa.select(handoffs.c.id, handoffs.c.state).where(
                handoffs.c.updated_at < cutoff)).all()
            ended = [r.id for r in old if r.state in FINAL]
            done.open_handoffs_kept = len(old) - len(ended)
            self._delete_handoffs(conn, ended, done)
            done.feed_messages += conn.execute(feed.delete().where(feed.c.at < cutoff)).rowcount
            done.webhook_deliveries += conn.execute(outbox.delete().where(
                outbox.c.delivered_at < cutoff)).rowcount
            done.inbox_questions += _delete_questions(conn, sa.select(unanswered.c.id).where(
                unanswered.c.at < cutoff))
            done.inbox_questions += conn.execute(answer_votes.delete().where(
                answer_votes.c.at < cutoff)).rowcount
            done.inbox_questions += conn.execute(faq_answers.delete().where(faq_answers.c.at < cutoff)).rowcount
        return done

    def _purge_tracker(self, conn: sa.engine.Connection, cutoff: float, done: Deleted) -> None:
        e = tracker_events.c
        spans = conn.execute(sa.select(e.sender_id, sa.func.max(e.timestamp).label("last"))
                             .where(e.sender_id.in_(sa.select(e.sender_id).where(e.timestamp < cutoff)))
                             .group_by(e.sender_id)).all()
        idle = [s.sender_id for s in spans if s.last < cutoff]
        done.conversations += len(idle)
        for chunk in _chunks(idle):
            done.tracker_events += conn.execute(tracker_events.delete().where(e.sender_id.in_(chunk))).rowcount
        for s in spans:
            if s.last < cutoff:
                continue
            latest_session = conn.execute(sa.select(sa.func.max(e.timestamp)).where(
                e.sender_id == s.sender_id, e.type_name == "session_started")).scalar()
            before = min(cutoff, latest_session if latest_session is not None else float("-inf"))
            done.tracker_events += conn.execute(tracker_events.delete().where(
                e.sender_id == s.sender_id, e.timestamp < before)).rowcount

    # -- forget ---------------------------------------------------------------------------------
    def forget_sender(self, sender_id: str, dry_run: bool = False) -> Deleted:
        """Everything about one conversation, in every store."""
        return self._forget([sender_id], dry_run)

    def forget_email(self, address: str, dry_run: bool = False) -> Deleted:
        """Every conversation whose hand-off carried ``address`` or where it was written, in every store.
        An address stored masked (SUPPORTBOT_MASK_AT_REST with email) cannot be found."""
        address = check_email(address)
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", address) + "%"
        ids: set[str] = set()
        with self.handoff_engine.connect() as conn:
            ids.update(conn.execute(sa.select(handoffs.c.conversation_id).where(sa.or_(
                sa.func.lower(handoffs.c.customer_email) == address.lower(),
                handoffs.c.packet.ilike(pattern, escape="\\")))).scalars())
            ids.update(conn.execute(sa.select(handoffs.c.conversation_id).join(
                messages, messages.c.handoff_id == handoffs.c.id).where(
                messages.c.text.ilike(pattern, escape="\\"))).scalars())
            ids.update(conn.execute(sa.select(feed.c.conversation_id).where(
                feed.c.payload.ilike(pattern, escape="\\"))).scalars())
        if self.tracker is not None and sa.inspect(self.tracker).has_table("events"):
            with self.tracker.connect() as conn:
                ids.update(conn.execute(sa.select(tracker_events.c.sender_id).distinct().where(
                    tracker_events.c.data.ilike(pattern, escape="\\"))).scalars())
        return self._forget(sorted(ids), dry_run)

    def _forget(self, conversation_ids: list[str], dry_run: bool) -> Deleted:
        done = Deleted(conversation_ids=list(conversation_ids))
        with self._tracker_transaction(dry_run) as conn:
            if conn is not None:
                for chunk in _chunks(conversation_ids):
                    found = conn.execute(sa.select(sa.func.count(sa.distinct(tracker_events.c.sender_id)))
                                         .where(tracker_events.c.sender_id.in_(chunk))).scalar_one()
                    done.conversations += int(found)
                    done.tracker_events += conn.execute(tracker_events.delete().where(
                        tracker_events.c.sender_id.in_(chunk))).rowcount
        with _transaction(self.handoff_engine, dry_run) as conn:
            for chunk in _chunks(conversation_ids):
                hids = list(conn.execute(sa.select(handoffs.c.id).where(
                    handoffs.c.conversation_id.in_(chunk))).scalars())
                self._delete_handoffs(conn, hids, done)
                done.feed_messages += conn.execute(feed.delete().where(
                    feed.c.conversation_id.in_(chunk))).rowcount
                done.inbox_questions += _delete_questions(conn, sa.select(unanswered.c.id).where(
                    unanswered.c.conversation_id.in_(chunk)))
                done.inbox_questions += conn.execute(answer_votes.delete().where(
                    answer_votes.c.conversation_id.in_(chunk))).rowcount
                done.inbox_questions += conn.execute(faq_answers.delete().where(
                    faq_answers.c.conversation_id.in_(chunk))).rowcount
        return done

    # -- shared ---------------------------------------------------------------------------------
    @staticmethod
    def _delete_handoffs(conn: sa.engine.Connection, hids: list[str], done: Deleted) -> None:
        """Hand-offs with their messages, transitions and webhook deliveries (keyed ``<id>:<event>``)."""
        wanted = set(hids)
        deliveries = [r.id for r in conn.execute(sa.select(outbox.c.id, outbox.c.idempotency_key)).all()
                      if r.idempotency_key.split(":", 1)[0] in wanted] if wanted else []
        for chunk in _chunks(deliveries):
            done.webhook_deliveries += conn.execute(outbox.delete().where(outbox.c.id.in_(chunk))).rowcount
        for chunk in _chunks(hids):
            done.email_replies += conn.execute(emails.delete().where(emails.c.handoff_id.in_(chunk))).rowcount
            done.handoff_messages += conn.execute(messages.delete().where(
                messages.c.handoff_id.in_(chunk))).rowcount
            done.handoff_transitions += conn.execute(transitions.delete().where(
                transitions.c.handoff_id.in_(chunk))).rowcount
            done.handoffs += conn.execute(handoffs.delete().where(handoffs.c.id.in_(chunk))).rowcount

    def _tracker_transaction(self, dry_run: bool) -> AbstractContextManager[sa.engine.Connection | None]:
        if self.tracker is None or not sa.inspect(self.tracker).has_table("events"):
            return contextlib.nullcontext()
        return _transaction(self.tracker, dry_run)


@contextlib.contextmanager
def _transaction(engine: sa.engine.Engine, dry_run: bool) -> Iterator[sa.engine.Connection]:
    """A connection in a transaction: committed when the block succeeds, rolled back on an error
    or in a dry run."""
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            yield conn
        except BaseException:
            tx.rollback()
            raise
        if dry_run:
            tx.rollback()
        else:
            tx.commit()


def _delete_questions(conn: sa.engine.Connection, ids: sa.sql.Select) -> int:
    """Inbox questions with the record of what editors did with them (an action left with no
    question goes too)."""
    conn.execute(inbox_handled.delete().where(inbox_handled.c.question_id.in_(ids)))
    conn.execute(inbox_actions.delete().where(~inbox_actions.c.id.in_(sa.select(inbox_handled.c.action_id))))
    return int(conn.execute(unanswered.delete().where(unanswered.c.id.in_(ids))).rowcount)


def _chunks(items: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(items)
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]
