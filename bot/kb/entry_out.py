"""Leave-entry-out samples: what a question about a topic the FAQ does not cover looks like.

Corpus-only calibration used to see only two kinds of question: phrasings of the FAQ's own entries
(leave-one-out) and generic out-of-scope ones (weather, jokes). Real unanswerable questions are
neither: they are about the shop's own business but about something no entry covers, and they score
almost like in-scope ones (issue 18: Banking77 with 27 intents held out measured answered precision
0.63 against a promised 0.95). Holding a whole entry out makes such questions from the corpus: each
in-scope sample with its own entry removed from its hits is a question whose right answer is not in
the FAQ, asked of the other entries. Whatever it is answered with is wrong.

The hits come from the same held-out search as the in-scope samples, so this costs no search and no
refit. It is an approximation: the scoring signals (head, BM25) were fitted with the entry present;
refitted without it the others would score a little higher on these questions, so these samples are
slightly easier to decline than real ones (bench/entry_out.py measures the result on public sets).
"""

from __future__ import annotations

import numpy as np

from bot.kb.calibrate import BELOW_ANY, ENTRY_OUT, Samples


def entry_out(samples: Samples) -> Samples:
    """The in-scope ``samples`` (label >= 0) with their own entry taken out of their hits, the rest
    shifted up, labelled :data:`ENTRY_OUT` (out of scope, of the in-domain kind)."""
    rows = np.flatnonzero(samples.labels >= 0)
    ids, scores = samples.top_ids[rows], samples.top_scores[rows]
    own = ids == samples.labels[rows, None]
    order = np.argsort(own, axis=1, kind="stable")  # the own entry (if among the hits) goes last
    ids = np.take_along_axis(ids, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    moved = np.take_along_axis(own, order, axis=1)
    ids[moved], scores[moved] = -1, -np.inf
    scores[ids[:, 0] < 0, 0] = BELOW_ANY  # no other hit (or declined as served): finite, never answered
    return Samples(np.full(len(rows), ENTRY_OUT, dtype=np.int64), ids, scores)


def keys_of(keys: list[str], labels: np.ndarray) -> list[str]:
    """The normalised texts of :func:`entry_out`'s samples, from those of the samples they came from."""
    return [k for k, label in zip(keys, labels.tolist()) if label >= 0]
