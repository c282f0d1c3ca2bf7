"""In-domain out-of-scope samples for calibration: leave-entry-out.

Leave-one-out only ever asks questions whose own entry is in the index, and the generic
out-of-scope questions (``bot/kb/data/oos_generic.txt``) are far from any FAQ's topics. Real
out-of-scope questions sit next to the FAQ's topics ("how do I cancel a transfer" to a bank FAQ
without that entry): they find a neighbouring entry that scores well. Calibrated without them,
thresholds promise a precision real traffic does not get.

Here each entry in turn plays a topic the FAQ does not cover. Entries are dealt into FOLDS folds
(seeded); the phrasings of one fold's entries are searched against an index of the other folds'
phrasings, each scoring signal refitted without them (``Evidence.without_entries``), so their
nearest entries are their neighbours, as a customer's question on a missing neighbouring topic
would find. They become out-of-scope samples labelled NEAR_OOS; ``calibrate.choose_thresholds``
gives them NEAR_SHARE of the out-of-scope weight.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from bot.kb.calibrate import NEAR_OOS, NEAREST, Samples, loo_rows
from bot.kb.evidence import SIGNALS, computations
from bot.kb.evidence.base import Phrasings
from bot.kb.index import IndexVersion, make_faiss_index, score_entries

FOLDS = 5  # a fifth of the entries out at a time: the index keeps most of its neighbours
MIN_ENTRIES = 3  # with fewer, what is left is not a neighbourhood
PER_ENTRY = 10  # phrasings of an entry asked, at most: a long entry does not outweigh a short one
SEED = 0


def entry_folds(n_entries: int, folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Each entry's fold: a seeded shuffle dealt round-robin, so folds differ in size by one at most."""
    order = np.random.default_rng(seed).permutation(n_entries)
    fold_of = np.empty(n_entries, dtype=np.int64)
    fold_of[order] = np.arange(n_entries) % min(folds, max(n_entries, 1))
    return fold_of


def asked_rows(owners: np.ndarray, rows: np.ndarray | None = None, per_entry: int = PER_ENTRY) -> np.ndarray:
    """The phrasings leave-entry-out asks (among ``rows`` if given): the first ``per_entry`` of
    each entry with alternates, in phrasing order. An entry's only question is left out as
    leave-one-out leaves it out: its in-scope samples are answer sentences (``bot.kb.stand_ins``),
    already on the careful side; with near-miss samples too, StackFAQ (one question per entry)
    measured precision 0.980 at coverage 0.791 against the promised 0.95, 0.948 at 0.968 without."""
    candidates = loo_rows(owners, None if rows is None else np.sort(np.asarray(rows, dtype=np.int64)))
    taken: dict[int, int] = {}
    out = []
    for r in candidates:
        owner = int(owners[r])
        if taken.get(owner, 0) < per_entry:
            taken[owner] = taken.get(owner, 0) + 1
            out.append(int(r))
    return np.asarray(out, dtype=np.int64)


def leave_entry_out(vectors: np.ndarray, owners: np.ndarray, texts: Sequence[str] = (), *,
                    rows: np.ndarray | None = None, states: Mapping[str, Any] | None = None,
                    **weights: float) -> Samples:
    """Out-of-scope samples (label NEAR_OOS): the phrasings of :func:`asked_rows` (``rows``: e.g. those
    a tuned model did not train on), in its order, each searched with its entry's fold left out.
    ``weights`` and ``states`` as for ``calibrate.leave_one_out``. None for fewer than MIN_ENTRIES."""
    n_entries = int(owners.max()) + 1 if len(owners) else 0
    if n_entries < MIN_ENTRIES:
        return Samples.from_hits([], [])
    chosen = {s.name: float(weights.pop(s.key, 0.0)) for s in SIGNALS}
    if weights:
        raise ValueError(f"unknown scoring weights {sorted(weights)}")
    used = [(chosen[name], computation) for name, computation in computations().items() if chosen[name] > 0]
    phrasings = Phrasings(texts, owners, n_entries, vectors.shape[1])
    fold_of = entry_folds(n_entries)
    asked = asked_rows(owners, rows)
    hits: dict[int, list[tuple[int, float]]] = {}
    for fold in range(int(fold_of.max()) + 1):
        out = fold_of[owners] == fold
        keep, fold_rows = np.flatnonzero(~out), asked[out[asked]]
        if len(fold_rows) == 0 or len(keep) == 0:
            continue
        index = make_faiss_index(vectors[keep])
        scores, ids = index.search(np.ascontiguousarray(vectors[fold_rows]), min(NEAREST, len(keep)))
        ids = np.where(ids >= 0, keep[np.maximum(ids, 0)], -1)  # back to the version's phrasing ids
        evidence = [(w, c.without_entries((states or {}).get(c.name), vectors, phrasings, keep, fold_rows))
                    for w, c in used]
        for n, (row, sc, ix) in enumerate(zip(fold_rows, scores, ids)):
            found = score_entries(sc, ix, owners, [(w, ev[n]) for w, ev in evidence])
            hits[int(row)] = [(e, s) for e, s, _ in found]
    return Samples.from_hits([NEAR_OOS] * len(hits), [hits[r] for r in sorted(hits)])  # in asked order


def version_leave_entry_out(version: IndexVersion, vectors: np.ndarray,
                            rows: np.ndarray | None = None) -> Samples:
    """:func:`leave_entry_out` with the version's own signals and weights."""
    return leave_entry_out(vectors, version.owners, version.texts, rows=rows,
                           states={name: version.state(name) for name in version.weights},
                           **{s.key: version.weights[s.name] for s in SIGNALS})
