"""Leave-entry-out samples: what a question about a topic the FAQ does not cover looks like.

Corpus-only calibration used to see only two kinds of question: phrasings of the FAQ's own entries
(leave-one-out) and generic out-of-scope ones (weather, jokes). Real unanswerable questions are
neither: they are about the shop's own business but about something no entry covers, and they score
almost like in-scope ones (issue 18: Banking77 with 27 intents held out measured answered precision
0.63 against a promised 0.95). Holding a whole entry out makes such questions from the corpus: each
in-scope sample with its own entry removed from its hits is a question whose right answer is not in
the FAQ, asked of the other entries. Whatever it is answered with is wrong.

Two ways to make them: :func:`entry_out` drops each in-scope sample's own entry from its held-out
hits (no search, no refit; the head and BM25 were fitted with the entry present, so the others
score too low and the thresholds come out too lax: Banking77 held out 0.836 at a promised 0.95);
:func:`refitted`, what calibration uses, asks each fold of entries of an index rebuilt without them
(0.927; bench/entry_out.py has every set and the ablations).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from bot.kb.calibrate import BELOW_ANY, ENTRY_OUT, NEAREST, Samples, declined
from bot.kb.evidence.head import fit_head
from bot.kb.evidence.lexical import Lexical
from bot.kb.index import IndexVersion, make_faiss_index, score_entries
from bot.kb.out_of_scope import normalised


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


FOLDS = 5  # entries are dealt into this many folds; each fold is asked of the others, refitted
SEED = 7


def entry_folds(n_entries: int, folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Each entry's fold: a seeded shuffle dealt round-robin (deterministic for a given corpus size)."""
    return np.random.default_rng(seed).permutation(n_entries) % folds


def refitted(vectors: np.ndarray, owners: np.ndarray, texts: Sequence[str], weights: Mapping[str, float],
             answers: np.ndarray | None = None, rows: np.ndarray | None = None,
             folds: int = FOLDS) -> tuple[Samples, np.ndarray]:
    """Leave-entry-out samples from an index rebuilt without the entries asked about.

    Entries are dealt into ``folds`` folds; the phrasings of one fold's entries (only ``rows`` if
    given: those a tuned model never trained on) are searched against the other folds' phrasings,
    with the classifier head refitted and the BM25 documents rebuilt on those alone (``weights``:
    the version's signal weights by name; ``answers``: the answers' vectors). Unlike
    :func:`entry_out` nothing learnt from the missing entry lowers the other entries' scores (the
    head's probability and BM25's best-match scaling no longer go to it), so these near-topic
    questions score as high as real ones do. Returns the samples (labelled :data:`ENTRY_OUT`) and
    the phrasing row each was asked from, in order.
    """
    n_entries = int(owners.max()) + 1 if len(owners) else 0
    fold_of = entry_folds(n_entries, folds)[owners]
    asked = np.arange(len(owners)) if rows is None else np.asarray(rows, dtype=np.int64)
    hits, order = asked_without(vectors, owners, texts, weights, answers, vectors[asked],
                                [texts[r] for r in asked], fold_of[asked], fold_of, folds)
    done = asked[order]
    return Samples.from_hits([ENTRY_OUT] * len(done), hits), done


def asked_without(vectors: np.ndarray, owners: np.ndarray, texts: Sequence[str], weights: Mapping[str, float],
                  answers: np.ndarray | None, ask_vectors: np.ndarray, ask_texts: Sequence[str],
                  ask_fold: np.ndarray, fold_of: np.ndarray,
                  folds: int) -> tuple[list[list[tuple[int, float]]], np.ndarray]:
    """Questions (``ask_vectors``, ``ask_texts``) of fold k asked of an index of the phrasings
    outside fold k (``fold_of``), with the head refitted and the BM25 documents rebuilt on those
    alone. Returns each asked question's (entry, score) hits and its position in the input, in
    the order asked."""
    n_entries = int(owners.max()) + 1 if len(owners) else 0
    all_hits: list[list[tuple[int, float]]] = []
    order: list[np.ndarray] = []
    for k in range(folds):
        ask = np.flatnonzero(ask_fold == k)
        keep = np.flatnonzero(fold_of != k)
        if not len(ask) or not len(keep):
            continue
        evidence = _evidence(vectors, owners, texts, weights, answers, ask_vectors[ask],
                             [ask_texts[i] for i in ask], keep, n_entries)
        index = make_faiss_index(np.ascontiguousarray(vectors[keep]))
        scores, ids = index.search(np.ascontiguousarray(ask_vectors[ask]), min(NEAREST, len(keep)))
        ids = np.where(ids >= 0, keep[np.maximum(ids, 0)], -1)
        for n, (sc, ix) in enumerate(zip(scores, ids)):
            ranked = score_entries(sc, ix, owners, [(w, e[n]) for w, e in evidence])
            all_hits.append([(e, s) for e, s, _ in ranked])
        order.append(ask)
    return all_hits, (np.concatenate(order) if order else np.zeros(0, dtype=np.int64))


def _evidence(vectors: np.ndarray, owners: np.ndarray, texts: Sequence[str], weights: Mapping[str, float],
              answers: np.ndarray | None, ask_vectors: np.ndarray, ask_texts: Sequence[str], keep: np.ndarray,
              n_entries: int) -> list[tuple[float, np.ndarray]]:
    """Per signal that is on, its weight and the asked questions' per-entry scores, fitted on ``keep``."""
    out = []
    if weights.get("answer", 0) > 0 and answers is not None:
        out.append((weights["answer"], np.ascontiguousarray(ask_vectors) @ answers.T))
    if weights.get("head", 0) > 0:
        if len(np.unique(owners[keep])) >= 2:
            probabilities = fit_head(vectors[keep], owners[keep], n_entries).probabilities(ask_vectors)
        else:
            probabilities = np.full((len(ask_vectors), n_entries), 1.0 / n_entries, dtype=np.float32)
        out.append((weights["head"], probabilities))
    if weights.get("lexical", 0) > 0:
        present, local = np.unique(owners[keep], return_inverse=True)
        lexical = Lexical([texts[i] for i in keep], local, len(present))
        scores = np.zeros((len(ask_vectors), n_entries), dtype=np.float32)
        for n, text in enumerate(ask_texts):
            scores[n, present] = lexical.scores(text)
        out.append((weights["lexical"], scores))
    return out


def version_samples(version: IndexVersion, vectors: np.ndarray, samples: Samples, keys: list[str],
                    ex_vectors: np.ndarray, rows: np.ndarray | None = None,
                    refit: bool = True) -> tuple[Samples, list[str]]:
    """A version's leave-entry-out samples and their normalised texts, declined as served:
    :func:`refitted` (``refit``), else :func:`entry_out` of the in-scope ``samples`` (``keys``)."""
    if not refit:
        return entry_out(samples), keys_of(keys, samples.labels)
    outside, asked = refitted(vectors, version.owners, version.texts, version.weights,
                              version.state("answer"), rows)
    return declined(outside, vectors[asked], ex_vectors), [normalised(version.texts[r]) for r in asked]
