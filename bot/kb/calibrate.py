"""Choose decision thresholds from the corpus alone, aiming at a target answer precision.

In-scope evidence: leave-one-out over phrasings (each phrasing of an entry with two or more is
searched against all the others, as if a customer had typed it). Out-of-scope evidence: a generic
set of questions a store's FAQ should not answer, shipped in ``bot/kb/data/oos_generic.txt``.
Alternatively a labelled query file (``--queries``) that is not the evaluation file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from bot.kb.decision import TARGET_PRECISION, Thresholds
from bot.kb.evidence import SIGNALS, computations
from bot.kb.evidence.base import Phrasings
from bot.kb.files import write_json_atomic
from bot.kb.index import IndexVersion, make_faiss_index, score_entries
from bot.kb.out_of_scope import declining

TOP = 5  # entries kept per sample: enough for up to 3 options plus the runner-up
MIN_COVERAGE = 0.3  # a "reached" target must still answer this share of in-scope samples
MAX_OOS_CLARIFY = 0.1  # at most this share of out-of-scope questions get a "did you mean"
NEAREST = 20  # phrasings a leave-one-out search looks at, as a served search does (search_k)
BELOW_ANY = -2.0  # a score below every cosine: a declined sample's
ENTRY_OUT = -2  # label of a leave-entry-out sample (bot.kb.entry_out); generic out of scope: -1
IN_DOMAIN_SHARE = 0.5  # of the out-of-scope weight, what leave-entry-out samples carry (bench/entry_out.py)
MIN_CLARIFY_GAP = 0.08  # the clarify threshold sits at least this far below the answer threshold
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.1)


def generic_oos_questions() -> list[str]:
    text = resources.files("bot.kb").joinpath("data/oos_generic.txt").read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@dataclass
class Samples:
    """Per sample: its label (entry index, -1 when out of scope) and its top entries."""

    labels: np.ndarray       # (n,)
    top_ids: np.ndarray      # (n, TOP) entry indexes, -1 padded
    top_scores: np.ndarray   # (n, TOP) scores, -inf padded

    @classmethod
    def from_hits(cls, labels: Sequence[int], hits: Sequence[Sequence[tuple[int, float]]]) -> Samples:
        n = len(labels)
        ids = np.full((n, TOP), -1, dtype=np.int64)
        scores = np.full((n, TOP), -np.inf, dtype=np.float64)
        for row, row_hits in enumerate(hits):
            for col, (entry, score) in enumerate(row_hits[:TOP]):
                ids[row, col], scores[row, col] = entry, score
        return cls(np.asarray(labels, dtype=np.int64), ids, scores)

    def __add__(self, other: Samples) -> Samples:
        return Samples(np.concatenate([self.labels, other.labels]),
                       np.concatenate([self.top_ids, other.top_ids]),
                       np.concatenate([self.top_scores, other.top_scores]))


def leave_one_out(vectors: np.ndarray, owners: np.ndarray, texts: Sequence[str] = (), *,
                  rows: np.ndarray | None = None, states: Mapping[str, Any] | None = None,
                  **weights: float) -> Samples:
    """Each phrasing of a multi-phrasing entry (or only ``rows``, e.g. the phrasings a tuned
    model did not train on), searched against all the other phrasings.

    ``weights`` are the scoring signals' (``head_weight=0.5``...; unset: off) and ``states`` their
    loaded state (the answers' vectors); each signal scores a phrasing held out of what it learnt
    from (the head cross-fitted, BM25 against documents without it; ``texts`` are the phrasings).
    """
    counts = np.bincount(owners)
    rows = loo_rows(owners, rows)
    index = make_faiss_index(vectors)
    scores, ids = index.search(np.ascontiguousarray(vectors[rows]), min(NEAREST + 1, len(vectors)))
    phrasings = Phrasings(texts, owners, len(counts), vectors.shape[1])
    chosen = {s.name: float(weights.pop(s.key, 0.0)) for s in SIGNALS}
    if weights:
        raise ValueError(f"unknown scoring weights {sorted(weights)}")
    held = [(chosen[name], computation.held_out((states or {}).get(name), vectors, phrasings, rows))
            for name, computation in computations().items() if chosen[name] > 0]
    hits = [
        [(e, s) for e, s, _ in score_entries(sc, ix, owners, [(w, h[n]) for w, h in held], skip=int(r))]
        for n, (r, sc, ix) in enumerate(zip(rows, scores, ids))
    ]
    return Samples.from_hits(owners[rows].tolist(), hits)


def loo_rows(owners: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """The phrasings :func:`leave_one_out` samples, in its order: those of multi-phrasing entries
    (among ``rows`` if given)."""
    multi = np.flatnonzero(np.bincount(owners)[owners] >= 2)
    return multi if rows is None else np.intersect1d(rows, multi)


def declined(samples: Samples, vectors: np.ndarray, examples: np.ndarray, skip_self: bool = False) -> Samples:
    """``samples`` (encoded as ``vectors``) with those an out-of-scope example declines
    (``bot.kb.out_of_scope``) turned into no hit at all: as served, never answered nor clarified.
    ``skip_self``: the samples are the examples themselves, each held out of its own decline."""
    rows = declining(vectors, samples.top_scores[:, 0], examples, skip_self) >= 0
    if not rows.any():
        return samples
    ids, scores = samples.top_ids.copy(), samples.top_scores.copy()
    ids[rows], scores[rows] = -1, BELOW_ANY  # finite: quantiles over them stay numbers
    return Samples(samples.labels, ids, scores)


def version_leave_one_out(version: IndexVersion, vectors: np.ndarray,
                          rows: np.ndarray | None = None) -> Samples:
    """:func:`leave_one_out` with the version's own signals and weights."""
    return leave_one_out(vectors, version.owners, version.texts, rows=rows,
                         states={name: version.state(name) for name in version.weights},
                         **{s.key: version.weights[s.name] for s in SIGNALS})


def query_samples(version: IndexVersion, vectors: np.ndarray, labels: Sequence[int],
                  texts: Sequence[str], k: int = 20) -> Samples:
    results = version.search(vectors, k, texts)
    index_of = {e.id: i for i, e in enumerate(version.entries)}
    hits = [[(index_of[h.entry_id], h.score) for h in row] for row in results]
    return Samples.from_hits(labels, hits)


def choose_thresholds(samples: Samples, target_precision: float = TARGET_PRECISION, oos_share: float = 0.25,
                      clarify_precision: float = 0.5, base: Thresholds | None = None,
                      source: str = "calibrated",
                      in_domain_share: float = IN_DOMAIN_SHARE,
                      min_coverage: float = MIN_COVERAGE) -> tuple[Thresholds, dict]:
    """Grid-search answer threshold and margin: most correct answers at the target precision
    (answering at least ``min_coverage`` of the in-scope samples, else the best F0.5).

    Out-of-scope samples are weighted so that they make up ``oos_share`` of the traffic.
    The clarify threshold is the lowest at which at least ``clarify_precision`` of clarify
    prompts contain the right entry, and at most MAX_OOS_CLARIFY of out-of-scope samples get one.
    """
    if not 0 < target_precision < 1:
        raise ValueError("the target precision must be between 0 and 1 (exclusive)")
    if not 0 <= oos_share < 1:
        raise ValueError("the out-of-scope share must be in [0, 1)")
    base = base or Thresholds()
    oos = samples.labels < 0
    n_in, n_oos = int((~oos).sum()), int(oos.sum())
    if n_in == 0:
        raise ValueError("no in-scope samples to calibrate on: give some entries alternates (two or "
                         "more phrasings) or answers of at least one sentence of three words, "
                         "calibrate on labelled questions ('kb calibrate --queries'), or build with "
                         "--no-calibrate to keep the default thresholds")
    weight = oos_weights(samples.labels, oos_share, in_domain_share)
    s1 = samples.top_scores[:, 0]
    s2 = np.where(np.isfinite(samples.top_scores[:, 1]), samples.top_scores[:, 1], -1.0)
    right1 = (samples.top_ids[:, 0] == samples.labels) & ~oos

    # Most correct answers at the target precision; when the evidence cannot reach the target
    # (leave-one-out is pessimistic: each query loses its own phrasing), the best F0.5 instead,
    # which still weighs precision over coverage.
    best = None
    for t in np.arange(0.30, 0.96, 0.005):
        for m in MARGINS:
            answered = (s1 >= t) & (s1 - s2 >= m)
            tp = float(weight[answered & right1].sum())
            total = float(weight[answered].sum())
            precision = tp / total if total else 1.0
            recall = tp / n_in
            f05 = 1.25 * precision * recall / (0.25 * precision + recall) if tp else 0.0
            reached = precision >= target_precision and recall >= min_coverage
            key = (reached, tp if reached else f05)
            if best is None or key > best[0]:
                best = (key, float(t), float(m), precision, recall)
    assert best is not None
    (reached, _), answer_t, margin, precision, accuracy = best
    answered = (s1 >= answer_t) & (s1 - s2 >= margin)

    # Clarify: options are a prefix of the top entries (scores are sorted).
    window, max_opts = base.window, base.max_options
    rank = np.arange(TOP)[None, :]
    clarify_t = answer_t
    # Leave-entry-out samples are near questions: offering them the nearest entries is what a
    # clarify is for, so they neither set the floor nor count against usefulness.
    generic = samples.labels == -1
    floor = float(np.quantile(s1[generic], 1 - MAX_OOS_CLARIFY)) if generic.any() else 0.2
    judged = samples.labels != ENTRY_OUT
    for c in np.arange(answer_t, max(floor, 0.2) - 1e-9, -0.01):
        in_window = (samples.top_scores >= c) & (s1[:, None] - samples.top_scores <= window)
        in_window &= rank < max_opts
        asked = ~answered & in_window[:, 0] & judged
        if not asked.any():
            clarify_t = float(c)
            continue
        hit = ((samples.top_ids == samples.labels[:, None]) & in_window).any(axis=1) & ~oos
        useful = float(weight[asked & hit].sum()) / float(weight[asked].sum())
        if useful < clarify_precision:
            break
        clarify_t = float(c)

    # A real clarify window: calibration may find "did you mean" useless this close to the
    # answer threshold (then it would vanish); keep the documented minimum gap instead.
    clarify_t = max(min(clarify_t, answer_t - MIN_CLARIFY_GAP), -1.0)
    thresholds = Thresholds(answer=round(answer_t, 3), margin=margin,
                            clarify=round(clarify_t, 3), window=window,
                            max_options=max_opts, source=source,
                            short_answer=base.short_answer, short_margin=base.short_margin)
    report = {
        "samples_in_scope": n_in,
        "samples_out_of_scope": n_oos,
        "samples_entry_out": int((samples.labels == ENTRY_OUT).sum()),
        "target_precision": target_precision,
        "target_reached": bool(reached),
        "oos_share": oos_share,
        "estimated_precision": round(precision, 4),
        "estimated_in_scope_accuracy": round(accuracy, 4),
        "estimated_oos_answered": round(float(answered[oos].mean()), 4) if n_oos else None,
        "thresholds": thresholds.to_json(),
    }
    return thresholds, report


def oos_weights(labels: np.ndarray, oos_share: float, in_domain_share: float = IN_DOMAIN_SHARE) -> np.ndarray:
    """Per sample, its weight: 1 in scope; generic out-of-scope samples together weigh what makes
    them ``oos_share`` of the traffic (as without leave-entry-out samples), and leave-entry-out ones
    are added on top so that they are ``in_domain_share`` of all out-of-scope weight. Added, not
    shared: the generic samples never weigh less than they did, so the thresholds never get laxer."""
    oos, inner = labels < 0, labels == ENTRY_OUT
    outer = oos & ~inner
    n_in = int((~oos).sum())
    total = (oos_share / (1 - oos_share)) * n_in
    weight = np.ones(len(labels))
    if not n_in:
        return np.where(oos, 0.0, 1.0)
    if not outer.any() or in_domain_share >= 1:
        inner_total, outer_total = total, 0.0
    else:
        inner_total, outer_total = total * in_domain_share / (1 - in_domain_share), total
    if inner.any():
        weight[inner] = inner_total / int(inner.sum())
    if outer.any():
        weight[outer] = (outer_total if inner.any() else total) / int(outer.sum())
    return weight


def save(path: Path, thresholds: Thresholds, report: dict) -> None:
    """Store thresholds with the index version they were calibrated on."""
    write_json_atomic(path / "calibration.json", report)
    write_json_atomic(path / "thresholds.json", thresholds.to_json())



def answered_by(samples: Samples, thresholds: Thresholds,
                short: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, whether ``thresholds`` answer it (as :func:`choose_thresholds` counts: the global
    answer threshold and margin; for the ``short`` samples the short pair, if there is one) and
    whether that answer is right."""
    s1 = samples.top_scores[:, 0]
    s2 = np.where(np.isfinite(samples.top_scores[:, 1]), samples.top_scores[:, 1], -1.0)
    answer, margin = np.full(len(s1), thresholds.answer), np.full(len(s1), thresholds.margin)
    if short is not None:
        short_t = thresholds.for_short()
        answer[short], margin[short] = short_t.answer, short_t.margin
    answered = (s1 >= answer) & (s1 - s2 >= margin)
    return answered, answered & (samples.top_ids[:, 0] == samples.labels) & (samples.labels >= 0)
