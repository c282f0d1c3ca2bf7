"""Labelled real questions, from what editors, agents and customers did with them: what
``supportbot kb calibrate --from-traffic`` and the editor's builder calibrate on
(``bot.kb.traffic_calibration``).

Each label source reads its own table and yields :class:`RawLabel` s; ``SOURCES`` lists them with
their authority (who read the question most carefully):

- ``inbox`` (an editor, rank 2): an action on an inbox group (``InboxStore.act``): "add as
  alternates of X" and "new entry X" label the group's questions X, "not ours" out of scope.
- ``agent`` (rank 1), for agents' corrections: when an agent answers a handed-off question with an
  FAQ entry (the console's agent assist, not built yet), its source function reads where the
  console records those (question, entry) pairs and is added to ``SOURCES`` with rank 1; nothing
  else changes.
- ``votes`` (the customer, rank 0): an answer voted helpful labels the question with the entry
  that answered; voted not helpful, only "not that entry".

:func:`collect` merges them per question (the masked text the inbox stores, compared ignoring case
and spacing): labels of entries that no longer exist are dropped first; the highest-ranked labels
decide, and a lower-ranked label that disagrees is counted as ``overridden``; labels of the same
rank that disagree (two entries, an entry and "not ours", helpful and not helpful on one entry)
leave the question out, counted and listed as a conflict. "Not that entry" agrees with any other
entry and with "not ours".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Mapping

import sqlalchemy as sa

from bot.db import aware, metadata
from bot.inbox.store import (
    ALTERNATES,
    HELPFUL,
    NEW_ENTRY,
    NOT_HELPFUL,
    NOT_OURS,
    answer_votes,
    inbox_actions,
    inbox_handled,
    unanswered,
)
from bot.kb.out_of_scope import normalised
from bot.kb.traffic import LabelledQuestion

MAX_CONFLICTS_LISTED = 20


@dataclass(frozen=True)
class RawLabel:
    """One label as a source recorded it: ``entry_id`` right (or, with ``wrong``, wrong), or
    ``entry_id`` None for out of scope."""

    question: str
    entry_id: str | None
    source: str
    at: datetime
    group: str = ""  # labelled together with the other questions of this group
    wrong: bool = False

    @property
    def claim(self) -> str:
        return ("not:" if self.wrong else "entry:") + self.entry_id if self.entry_id else "out_of_scope"


Source = Callable[[sa.engine.Engine], Iterable[RawLabel]]


def from_inbox(engine: sa.engine.Engine) -> Iterable[RawLabel]:
    u, a = unanswered.c, inbox_actions.c
    query = (sa.select(u.question, a.id, a.action, a.entry_id, a.at)
             .select_from(unanswered.join(inbox_handled, inbox_handled.c.question_id == u.id)
                          .join(inbox_actions, a.id == inbox_handled.c.action_id))
             .where(a.action.in_([ALTERNATES, NEW_ENTRY, NOT_OURS])))
    with engine.connect() as conn:
        for question, action_id, action, entry_id, at in conn.execute(query):
            yield RawLabel(question, None if action == NOT_OURS else entry_id, f"inbox_{action}", aware(at),
                           f"action:{action_id}")


def from_votes(engine: sa.engine.Engine) -> Iterable[RawLabel]:
    """Helpful and not-helpful votes (their questions are kept in the inbox's table since votes
    recorded them; older helpful votes have no question and are no label)."""
    u = unanswered.c
    with engine.connect() as conn:
        for question, kind, entry_id, at in conn.execute(
                sa.select(u.question, u.kind, u.nearest_entry, u.at)
                .where(u.kind.in_([HELPFUL, NOT_HELPFUL]), u.nearest_entry.isnot(None))):
            yield RawLabel(question, entry_id, f"vote_{kind}", aware(at), wrong=kind == NOT_HELPFUL)


SOURCES: Mapping[str, tuple[int, Source]] = {"inbox": (2, from_inbox), "votes": (0, from_votes)}


@dataclass
class Collected:
    questions: list[LabelledQuestion]
    report: dict  # counts per source, dropped, overridden, conflicts (kept in the calibration report)


def collect(engine: sa.engine.Engine, entry_ids: Iterable[str] | None = None,
            sources: Mapping[str, tuple[int, Source]] = SOURCES) -> Collected:
    """Every source's labels merged per question (see the module's docstring); ``entry_ids``: the
    entries that exist now (None: keep every label)."""
    metadata.create_all(engine, tables=[unanswered, answer_votes, inbox_actions, inbox_handled])
    known = set(entry_ids) if entry_ids is not None else None
    by_question: dict[str, list[tuple[int, RawLabel]]] = {}
    raw_by_source: dict[str, int] = {}
    entry_gone = 0
    for rank, read in sources.values():
        for label in read(engine):
            raw_by_source[label.source] = raw_by_source.get(label.source, 0) + 1
            if known is not None and label.entry_id is not None and label.entry_id not in known:
                entry_gone += 1
                continue
            by_question.setdefault(normalised(label.question), []).append((rank, label))
    questions, conflicts, overridden = [], [], 0
    for labels in by_question.values():
        top = max(rank for rank, _ in labels)
        deciding = [label for rank, label in labels if rank == top]
        merged = _merge(deciding)
        if merged is None:
            conflicts.append({"question": deciding[0].question,
                              "labels": sorted({f"{lb.claim} ({lb.source})" for lb in deciding})})
            continue
        overridden += sum(1 for rank, label in labels if rank < top and not _agrees(label, merged))
        questions.append(merged)
    questions.sort(key=lambda q: (q.at is None, q.at))
    return Collected(questions, {
        "labels_by_source": dict(sorted(raw_by_source.items())), "questions": len(questions),
        "dropped_entry_gone": entry_gone, "overridden": overridden, "conflicts": len(conflicts),
        "conflict_examples": conflicts[:MAX_CONFLICTS_LISTED]})


def _merge(labels: list[RawLabel]) -> LabelledQuestion | None:
    """One question's labels of the same rank as one, or None when they disagree."""
    right = {lb.entry_id for lb in labels if lb.entry_id and not lb.wrong}
    wrong = {lb.entry_id for lb in labels if lb.entry_id and lb.wrong}
    oos = any(lb.entry_id is None for lb in labels)
    if len(right) + oos > 1 or right & wrong:
        return None
    latest = max(labels, key=lambda lb: lb.at)
    groups = sorted({lb.group for lb in labels if lb.group})
    return LabelledQuestion(latest.question, entry_id=next(iter(right)) if right else None, out_of_scope=oos,
                            not_entries=() if right or oos else tuple(sorted(wrong)),
                            sources=tuple(sorted({lb.source for lb in labels})), at=latest.at,
                            group=groups[-1] if groups else "")


def _agrees(label: RawLabel, merged: LabelledQuestion) -> bool:
    if label.wrong:
        return label.entry_id != merged.entry_id
    if label.entry_id is None:
        return merged.out_of_scope
    return label.entry_id == merged.entry_id
