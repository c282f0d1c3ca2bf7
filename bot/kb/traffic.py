"""Labelled real questions as calibration samples (``supportbot kb calibrate --from-traffic``).

A labelled question is what a customer typed (masked, as the inbox stores it) with what it should
get: an entry, nothing ("not ours": out of scope), or only "not that entry" (an answer voted not
helpful; nothing else is known). ``bot.inbox.labels`` collects them; here they are scored against
an index version as a served search would score them, held out of whatever learnt from them:

- a question that is now one of the version's phrasings (added as an alternate, or a new entry's
  question) is scored leave-one-out: its own phrasing, and each signal's evidence from it, left out
  (``calibrate.version_leave_one_out``). If the version's tuned encoder may have trained on it, it
  is not used at all (its score would be flattered) and counted as ``trained_on``; nor is an
  entry's only phrasing (``only_phrasing``: without it the entry has nothing to be found by);
- a question that is one of the out-of-scope examples ("not ours" puts it there) is declined only
  by examples from outside its own fold of the cross-validation (never by itself);
- any other question is searched as a customer's message is.

A "not that entry" label is a sample only while the version still answers the question with that
entry (then answering it is wrong, whatever the right answer is); otherwise nothing is known about
it and it is counted as ``unknown_now``.

Questions labelled together (one inbox action: a group of similar questions) share a fold, so that
cross-validation never scores a question with thresholds chosen on its near-duplicates.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from bot.kb.calibrate import BELOW_ANY, Samples, query_samples, version_leave_one_out
from bot.kb.index import IndexVersion
from bot.kb.out_of_scope import DECLINE_MARGIN, normalised
from bot.kb.query import clean_query

FOLDS = 5
# the label of a sample whose right entry is unknown but is not the one that answers: never right
WRONG_ANSWER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class LabelledQuestion:
    """One real question and what it should get: ``entry_id``, ``out_of_scope``, or (alone) the
    entries that answered it wrongly (``not_entries``)."""

    text: str
    entry_id: str | None = None
    out_of_scope: bool = False
    not_entries: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # which label sources said so (bot.inbox.labels.SOURCES)
    at: datetime | None = None  # the latest label's time
    group: str = ""  # questions labelled together; "" is a group of its own

    def __post_init__(self) -> None:
        kinds = [self.entry_id is not None, self.out_of_scope, bool(self.not_entries) and
                 self.entry_id is None and not self.out_of_scope]
        if sum(kinds) != 1:
            raise ValueError(f"a labelled question has an entry, out of scope or only wrong entries; "
                             f"got {self!r}")

    @property
    def kind(self) -> str:
        return "in_scope" if self.entry_id is not None else "out_of_scope" if self.out_of_scope \
            else "not_entry"

    def fold(self, folds: int = FOLDS) -> int:
        key = self.group or "q:" + normalised(self.text)
        return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % folds


@dataclass
class TrafficSamples:
    """The usable labelled questions as samples, their folds and questions, and what was left out."""

    samples: Samples
    folds: np.ndarray
    questions: list[LabelledQuestion]
    left_out: Counter = field(default_factory=Counter)


def traffic_samples(version: IndexVersion, vectors: np.ndarray, embed: Callable[[list[str]], np.ndarray],
                    questions: Sequence[LabelledQuestion], examples: Sequence[str], example_vectors: np.ndarray,
                    trained_on: np.ndarray | None, k: int = 20, max_chars: int = 1000) -> TrafficSamples:
    """Score ``questions`` against ``version`` (``vectors``: its phrasings', ``embed``: texts to
    vectors with its encoder), the out-of-scope ``examples`` declining as served except their own
    fold's. ``trained_on``: rows of phrasings the version's tuned encoder trained on (None: not tuned)."""
    index_of = {e.id: i for i, e in enumerate(version.entries)}
    left_out: Counter = Counter()
    kept = []
    for q in questions:
        if any(e not in index_of for e in ([q.entry_id] if q.entry_id else list(q.not_entries))):
            left_out["entry_gone"] += 1
        else:
            kept.append(q)
    row_of: dict[str, int] = {}
    for n, text in enumerate(version.texts):
        row_of.setdefault(normalised(text), n)
    trained = set(trained_on.tolist()) if trained_on is not None else set()
    phrasing: list[tuple[LabelledQuestion, int]] = []
    searched: list[LabelledQuestion] = []
    for q in kept:
        row = row_of.get(normalised(q.text))
        if row is not None and row in trained:
            left_out["trained_on"] += 1
        elif row is not None and np.sum(version.owners == version.owners[row]) < 2:
            left_out["only_phrasing"] += 1  # an entry's only phrasing: leave-one-out leaves it empty
        elif row is not None:
            phrasing.append((q, row))
        else:
            searched.append(q)
    parts, ordered = [], []
    if phrasing:
        rows = np.asarray([row for _, row in phrasing], dtype=np.int64)
        order = np.argsort(rows, kind="stable")  # leave_one_out returns its rows sorted
        loo = version_leave_one_out(version, vectors, rows[order])
        if len(loo.labels) != len(rows) or np.any(np.sort(rows) != rows[order]):
            raise AssertionError("leave-one-out dropped a labelled phrasing")
        labels = [index_of[phrasing[i][0].entry_id] if phrasing[i][0].entry_id else -1 for i in order]
        ordered += [phrasing[i][0] for i in order]
        parts.append((Samples(np.asarray(labels, dtype=np.int64), loo.top_ids, loo.top_scores),
                      vectors[rows[order]]))
    if searched:
        texts = [clean_query(q.text, max_chars) for q in searched]
        q_vectors = embed(texts)
        labels = [index_of[q.entry_id] if q.entry_id else -1 for q in searched]
        parts.append((query_samples(version, q_vectors, labels, texts, k), q_vectors))
        ordered += searched
    if not parts:
        return TrafficSamples(Samples.from_hits([], []), np.zeros(0, dtype=np.int64), [], left_out)
    samples = sum((p for p, _ in parts[1:]), parts[0][0])
    q_vectors = np.concatenate([v for _, v in parts])
    folds = np.asarray([q.fold() for q in ordered], dtype=np.int64)
    samples = _declined(samples, q_vectors, folds, ordered, examples, example_vectors)
    return _wrong_answers(samples, folds, ordered, index_of, left_out)


def _declined(samples: Samples, q_vectors: np.ndarray, folds: np.ndarray, questions: list[LabelledQuestion],
              examples: Sequence[str], example_vectors: np.ndarray) -> Samples:
    """The out-of-scope examples' decline rule (``bot.kb.out_of_scope.declining``), each question
    held out of the examples that are questions of its own fold."""
    if not len(examples) or not len(samples.labels):
        return samples
    fold_of = {normalised(q.text): f for q, f in zip(questions, folds)}
    example_fold = np.asarray([fold_of.get(normalised(t), -1) for t in examples], dtype=np.int64)
    sims = np.asarray(q_vectors, dtype=np.float32) @ np.asarray(example_vectors, dtype=np.float32).T
    sims[folds[:, None] == example_fold[None, :]] = -np.inf
    rows = sims.max(axis=1) >= samples.top_scores[:, 0] + DECLINE_MARGIN
    ids, scores = samples.top_ids.copy(), samples.top_scores.copy()
    ids[rows], scores[rows] = -1, BELOW_ANY
    return Samples(samples.labels, ids, scores)


def _wrong_answers(samples: Samples, folds: np.ndarray, questions: list[LabelledQuestion],
                   index_of: dict[str, int], left_out: Counter) -> TrafficSamples:
    """"Not that entry" labels: a sample (never right) while that entry is still the top one."""
    keep = np.ones(len(questions), dtype=bool)
    labels = samples.labels.copy()
    for n, q in enumerate(questions):
        if q.kind != "not_entry":
            continue
        if samples.top_ids[n, 0] in {index_of[e] for e in q.not_entries}:
            labels[n] = WRONG_ANSWER
        else:
            keep[n] = False
            left_out["unknown_now"] += 1
    kept = Samples(labels[keep], samples.top_ids[keep], samples.top_scores[keep])
    return TrafficSamples(kept, folds[keep], [q for q, k in zip(questions, keep) if k], left_out)


def subset(samples: Samples, rows: np.ndarray) -> Samples:
    return Samples(samples.labels[rows], samples.top_ids[rows], samples.top_scores[rows])


def repeated(samples: Samples, times: int) -> Samples:
    """``samples`` counted ``times`` each (a weight, for combining with the corpus's samples)."""
    return Samples(np.tile(samples.labels, times), np.tile(samples.top_ids, (times, 1)),
                   np.tile(samples.top_scores, (times, 1)))
