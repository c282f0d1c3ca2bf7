"""The inbox's table (``unanswered``, in the hand-off database): one row per question the FAQ did
not answer well, with its conversation, what happened and the nearest entry.

Kinds: ``miss`` (no entry fitted), ``none_of_these`` (the customer refused every option of a
"did you mean"), ``not_helpful`` (the customer voted an answer not helpful: ``nearest_entry`` is
the entry that answered), ``low_rating`` (the customer rated a conversation the bot handled alone 1
or 2: each question it answered, ``nearest_entry`` the entry that did, ``bot.inbox.ratings``),
``clarify`` (options offered: kept to learn which questions are ambiguous; not shown as a gap
unless refused), ``helpful`` (the customer voted an answer helpful: ``nearest_entry`` is the entry
that answered; never a gap, kept as a labelled question for calibration, ``bot.inbox.labels``).
Votes on answers (``answer_votes``: one per conversation and entry, the latest counts) give each
entry its helpful / not helpful figures.

An editor acts once on a group of questions (``act``): ``alternates`` (added as alternates of the
entry ``entry_id``), ``new_entry`` (turned into the new entry ``entry_id``) or ``not_ours``
(kept as out-of-scope examples, ``bot.kb.out_of_scope``). The action (``inbox_actions``: what,
who, when, which entry) and the questions it covers (``inbox_handled``) are new tables, so an
older database gains them on start; acted questions leave the open inbox (``questions``,
``counts``) but stay for ``handled`` and ``handled_counts`` until purged or forgotten.

Questions are stored with every kind of personal data masked
(emails, phone, card and IBAN numbers), whatever ``SUPPORTBOT_MASK_AT_REST`` says: editors read
them, customers' contact data is none of their business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from bot.db import aware, metadata, utcnow
from bot.handoff.redact import DEFAULT_REGION, KINDS, redact
from bot.kb.corpus import ID_PATTERN

MISS, NONE_OF_THESE, NOT_HELPFUL, CLARIFY = "miss", "none_of_these", "not_helpful", "clarify"
PROPOSED = "proposed"  # an agent's reply on a resolved hand-off, suggested as an entry
LOW_RATING = "low_rating"  # answered in a bot-only conversation the customer rated 1 or 2
HELPFUL = "helpful"  # an answer voted helpful: a labelled question, never a gap
KINDS_STORED = (MISS, NONE_OF_THESE, NOT_HELPFUL, CLARIFY, PROPOSED, LOW_RATING, HELPFUL)
# what the inbox shows; a clarify becomes one when refused
GAPS = (MISS, NONE_OF_THESE, NOT_HELPFUL, PROPOSED, LOW_RATING)
ALTERNATES, NEW_ENTRY, NOT_OURS = "alternates", "new_entry", "not_ours"  # what an editor does with a group
ACTIONS = (ALTERNATES, NEW_ENTRY, NOT_OURS)
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000  # an agent's message can be this long

unanswered = sa.Table(
    "unanswered", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("nearest_entry", sa.String(255)),  # the best-scoring entry, or the first option offered
    sa.Column("score", sa.Float),
    sa.Column("options", sa.Text),  # a clarify's offered entry ids, comma-separated
    sa.Column("proposed_answer", sa.Text),  # a proposed entry's answer (an agent's reply)
    sa.Column("proposed_by", sa.String(255)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)


answer_votes = sa.Table(
    "answer_votes", metadata,
    sa.Column("conversation_id", sa.String(255), primary_key=True),
    sa.Column("faq_id", sa.String(255), primary_key=True, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)


inbox_actions = sa.Table(
    "inbox_actions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("by", sa.String(255), nullable=False),  # the editor's account
    sa.Column("entry_id", sa.String(255)),  # alternates / new_entry: the entry the questions went to
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)

inbox_handled = sa.Table(  # a question is handled once: its id is the key
    "inbox_handled", metadata,
    sa.Column("question_id", sa.Integer, sa.ForeignKey("unanswered.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("action_id", sa.Integer, sa.ForeignKey("inbox_actions.id", ondelete="CASCADE"), nullable=False,
              index=True),
)
_CHUNK = 500  # ids per IN (...) list


class InboxActionError(ValueError):
    """An action cannot be recorded; the message says which input and what to do. Nothing was
    recorded."""


@dataclass(frozen=True)
class Question:
    id: int
    conversation_id: str
    question: str
    kind: str
    nearest_entry: str | None
    score: float | None
    options: list[str]
    at: datetime
    proposed_answer: str | None = None
    proposed_by: str | None = None


@dataclass(frozen=True)
class Handled:
    """A question an editor acted on, with the action (``action_id`` is shared by its group)."""

    question: Question
    action_id: int
    action: str
    by: str
    entry_id: str | None
    at: datetime


class InboxStore:
    def __init__(self, engine: sa.engine.Engine, region: str = DEFAULT_REGION):
        self.engine, self.region = engine, region
        metadata.create_all(engine, tables=[unanswered, answer_votes, inbox_actions, inbox_handled])

    def add(self, conversation_id: str, question: str, kind: str, nearest_entry: str | None = None,
            score: float | None = None, options: Iterable[str] = (), proposed_answer: str | None = None,
            proposed_by: str | None = None) -> int:
        if kind not in KINDS_STORED:
            raise ValueError(f"unknown inbox kind {kind!r}")
        with self.engine.begin() as conn:
            result = conn.execute(unanswered.insert().values(
                conversation_id=conversation_id, question=self._masked(question, MAX_QUESTION_CHARS), kind=kind,
                nearest_entry=nearest_entry, score=score, options=",".join(options) or None, at=utcnow(),
                proposed_answer=self._masked(proposed_answer, MAX_ANSWER_CHARS) if proposed_answer else None,
                proposed_by=proposed_by))
            return int(result.inserted_primary_key[0])

    def _masked(self, text: str, limit: int) -> str:
        return redact(text.strip()[:limit], KINDS, self.region)

    def propose(self, conversation_id: str, question: str, answer: str, agent: str) -> int:
        """An agent's reply to a customer's question, for an editor to turn into an entry; once per
        conversation (ValueError the second time)."""
        with self.engine.connect() as conn:
            if conn.execute(sa.select(unanswered.c.id).where(unanswered.c.conversation_id == conversation_id,
                                                             unanswered.c.kind == PROPOSED)).first():
                raise ValueError("this conversation's reply is already in the editors' inbox")
        return self.add(conversation_id, question, PROPOSED, proposed_answer=answer, proposed_by=agent)

    def refuse_latest_clarify(self, conversation_id: str) -> Question | None:
        """The customer said "none of these": their latest "did you mean" becomes a gap."""
        with self.engine.begin() as conn:
            latest = conn.execute(sa.select(unanswered).where(
                unanswered.c.conversation_id == conversation_id, unanswered.c.kind == CLARIFY)
                .order_by(unanswered.c.id.desc()).limit(1)).first()
            if latest is None:
                return None
            conn.execute(unanswered.update().where(unanswered.c.id == latest.id).values(kind=NONE_OF_THESE))
        return self._question(latest._mapping, kind=NONE_OF_THESE)

    def vote(self, conversation_id: str, faq_id: str, question: str, helpful: bool) -> None:
        """The customer's vote on the answer ``faq_id`` gave to ``question``; a later vote of the same
        conversation on the same entry replaces it (and its inbox row: ``not_helpful`` or ``helpful``)."""
        with self.engine.begin() as conn:
            conn.execute(answer_votes.delete().where(answer_votes.c.conversation_id == conversation_id,
                                                     answer_votes.c.faq_id == faq_id))
            conn.execute(answer_votes.insert().values(conversation_id=conversation_id, faq_id=faq_id,
                                                      helpful=helpful, at=utcnow()))
            gone = sa.select(unanswered.c.id).where(unanswered.c.conversation_id == conversation_id,
                                                    unanswered.c.kind.in_([NOT_HELPFUL, HELPFUL]),
                                                    unanswered.c.nearest_entry == faq_id)
            conn.execute(inbox_handled.delete().where(inbox_handled.c.question_id.in_(gone)))
            conn.execute(unanswered.delete().where(unanswered.c.id.in_(gone)))
        self.add(conversation_id, question, HELPFUL if helpful else NOT_HELPFUL, faq_id)

    def votes(self) -> dict[str, tuple[int, int]]:
        """Per entry: (helpful, not helpful) votes."""
        v = answer_votes.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(v.faq_id, v.helpful, sa.func.count())
                                .group_by(v.faq_id, v.helpful)).all()
        out: dict[str, tuple[int, int]] = {}
        for faq_id, helpful, n in rows:
            yes, no = out.get(faq_id, (0, 0))
            out[faq_id] = (yes + int(n), no) if helpful else (yes, no + int(n))
        return out

    def questions(self, kinds: Iterable[str] = GAPS, limit: int = 100) -> list[Question]:
        """The open inbox: the newest questions of ``kinds`` first, none an editor acted on."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(unanswered).where(unanswered.c.kind.in_(list(kinds)), _open())
                                .order_by(unanswered.c.id.desc()).limit(limit)).all()
        return [self._question(r._mapping) for r in rows]

    def counts(self) -> dict[str, int]:
        """Open questions per kind."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(unanswered.c.kind, sa.func.count()).where(_open())
                                .group_by(unanswered.c.kind)).all()
        return {kind: int(n) for kind, n in rows}

    # -- an editor's actions ---------------------------------------------------------------------
    def act(self, question_ids: Iterable[int], action: str, by: str, entry_id: str | None = None) -> int:
        """Record one action on the questions ``question_ids`` (a group, ``bot.inbox.groups``), all
        or nothing; returns the action's id. ``entry_id`` names the entry for ``alternates`` and
        ``new_entry`` (checked as an id, not against the FAQ: the caller saved it) and must be None
        for ``not_ours``. Unknown ids and ids already acted on are an InboxActionError."""
        ids = _ids(question_ids)
        _check_action(action, by, entry_id)
        with self.engine.begin() as conn:
            found: set[int] = set()
            done: dict[int, Any] = {}
            for chunk in _chunks(ids):
                found.update(conn.execute(sa.select(unanswered.c.id).where(unanswered.c.id.in_(chunk))).scalars())
                for row in conn.execute(sa.select(inbox_handled.c.question_id, inbox_actions).join(
                        inbox_actions, inbox_actions.c.id == inbox_handled.c.action_id)
                        .where(inbox_handled.c.question_id.in_(chunk))):
                    done[row.question_id] = row
            missing = [i for i in ids if i not in found]
            if missing:
                raise InboxActionError(f"question_ids: no question {_listed(missing)} in the inbox (purged, "
                                       "forgotten or never there); reload the inbox and act on what it shows")
            if done:
                first = done[min(done)]
                raise InboxActionError(
                    f"question_ids: {_listed(sorted(done))} already handled (e.g. {first.action} by {first.by} "
                    f"at {aware(first.at):%Y-%m-%d %H:%M} UTC); reload the inbox: nothing was recorded")
            action_id = int(conn.execute(inbox_actions.insert().values(
                action=action, by=by, entry_id=entry_id, at=utcnow())).inserted_primary_key[0])
            try:
                for chunk in _chunks(ids):
                    conn.execute(inbox_handled.insert(),
                                 [{"question_id": i, "action_id": action_id} for i in chunk])
            except sa.exc.IntegrityError as exc:  # another editor acted on one of them meanwhile
                raise InboxActionError("question_ids: another editor acted on some of these questions just "
                                       "now; reload the inbox: nothing was recorded") from exc
        return action_id

    def covered(self, action_id: int) -> list[Question]:
        """The questions one action covers, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(unanswered).join(
                inbox_handled, inbox_handled.c.question_id == unanswered.c.id)
                .where(inbox_handled.c.action_id == action_id).order_by(unanswered.c.id)).all()
        return [self._question(r._mapping) for r in rows]

    def undo(self, action_id: int) -> int:
        """Forget an action: its questions are open again. Returns how many."""
        with self.engine.begin() as conn:
            n = conn.execute(inbox_handled.delete().where(inbox_handled.c.action_id == action_id)).rowcount
            conn.execute(inbox_actions.delete().where(inbox_actions.c.id == action_id))
        return int(n)

    def handled(self, actions: Iterable[str] = ACTIONS, limit: int = 100) -> list[Handled]:
        """Questions editors acted on, the latest action first (its questions newest first)."""
        a = inbox_actions.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(unanswered, a.id.label("action_id"), a.action, a.by, a.entry_id,
                                          a.at.label("acted_at"))
                                .join(inbox_handled, inbox_handled.c.question_id == unanswered.c.id)
                                .join(inbox_actions, a.id == inbox_handled.c.action_id)
                                .where(a.action.in_(list(actions)))
                                .order_by(a.id.desc(), unanswered.c.id.desc()).limit(limit)).all()
        return [Handled(self._question(r._mapping), r.action_id, r.action, r.by, r.entry_id, aware(r.acted_at))
                for r in rows]

    def handled_counts(self) -> dict[str, int]:
        """Handled questions per action (they count as answered)."""
        a = inbox_actions.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(a.action, sa.func.count()).select_from(
                inbox_handled.join(inbox_actions, a.id == inbox_handled.c.action_id)).group_by(a.action)).all()
        return {action: int(n) for action, n in rows}

    @staticmethod
    def _question(row: sa.RowMapping, kind: str | None = None) -> Question:
        return Question(row["id"], row["conversation_id"], row["question"], kind or row["kind"],
                        row["nearest_entry"], row["score"],
                        row["options"].split(",") if row["options"] else [], aware(row["at"]),
                        row.get("proposed_answer"), row.get("proposed_by"))


def _open() -> sa.sql.ColumnElement:
    return ~unanswered.c.id.in_(sa.select(inbox_handled.c.question_id))


def _ids(raw: Iterable[int]) -> list[int]:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise InboxActionError(f"question_ids: send a list of question ids, got {raw!r}")
    ids = list(dict.fromkeys(raw))
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int)]
    if bad:
        raise InboxActionError(f"question_ids: ids are whole numbers, got {bad[0]!r}")
    if not ids:
        raise InboxActionError("question_ids: empty; an action covers at least one question")
    return ids


def _check_action(action: str, by: str, entry_id: str | None) -> None:
    if action not in ACTIONS:
        raise InboxActionError(f"action: must be one of {', '.join(ACTIONS)}, got {action!r}")
    if not isinstance(by, str) or not by.strip() or len(by) > 255:
        raise InboxActionError("by: the editor's account name (1 to 255 characters)")
    if action == NOT_OURS:
        if entry_id is not None:
            raise InboxActionError("entry_id: 'not_ours' questions go to no entry; send none")
    elif not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id) or len(entry_id) > 255:
        raise InboxActionError(f"entry_id: {action!r} needs the id of the entry the questions went to "
                               f"(lower-case letters, digits, - or _), got {entry_id!r}")


def _listed(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:10]))
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]
