"""Thresholds for short messages ("refund?", "shipping canada"), calibrated on the corpus alone.

A message of one or two words (``bot.kb.query.is_short``) rarely says which of several
related entries is meant, yet it can score as high as a full question does (the 1-2-word probe of
bench/robustness.py: answered precision 0.74 with the full questions' thresholds). So short
messages get their own answer threshold and margin, chosen like the long ones at the same target
precision from short questions the corpus itself gives: every one- and two-content-word window of
each phrasing of an entry with alternates, labelled with its entry and asked of an index without
its phrasing's fold (as leave-one-out asks a phrasing of the others); the same windows asked of an
index without their entry (leave-entry-out: near-topic questions the FAQ cannot answer); and
windows of the generic out-of-scope questions. Below the short thresholds a short message gets
"did you mean" with the entries it may mean, as any message below the answer threshold does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from bot.kb import calibrate as cal
from bot.kb.decision import Thresholds
from bot.kb.entry_out import FOLDS, asked_without, entry_folds
from bot.kb.evidence.head import round_robin_folds
from bot.kb.index import IndexVersion
from bot.kb.query import SHORT_WORDS, content_words

IN_SCOPE_FOLDS = 2  # a window is asked of the phrasings outside its phrasing's fold (as BM25 cross-fits)


def windows(text: str, size: int = SHORT_WORDS) -> list[str]:
    """The runs of one to ``size`` consecutive content words of ``text``, each once."""
    words = content_words(text)
    runs = (" ".join(words[i:i + n]) for n in range(1, size + 1) for i in range(len(words) - n + 1))
    return list(dict.fromkeys(runs))


@dataclass
class ShortSamples:
    samples: cal.Samples
    windows: int  # distinct in-scope windows
    entries: int  # entries they come from


def short_samples(version: IndexVersion, vectors: np.ndarray, embed: Callable[[list[str]], np.ndarray],
                  oos_texts: Sequence[str], ex_vectors: np.ndarray,
                  rows: np.ndarray | None = None) -> ShortSamples | None:
    """The short calibration samples of a version (``vectors``: its phrasings'; ``rows``: only
    these phrasings, those a tuned model never trained on), declined as served; None when no
    entry has alternates to take windows of."""
    owners, texts = version.owners, version.texts
    found: dict[tuple[str, int], int] = {}  # (window, entry) -> the phrasing it was taken from
    for r in cal.loo_rows(owners, rows).tolist():
        for w in windows(texts[r]):
            found.setdefault((w, int(owners[r])), r)
    if not found:
        return None
    asked = [w for w, _ in found]
    entry = np.asarray([e for _, e in found], dtype=np.int64)
    source = np.asarray(list(found.values()), dtype=np.int64)
    asked_vectors = embed(asked)
    weights, answers = version.weights, version.state("answer")
    phrasing_fold = round_robin_folds(owners, IN_SCOPE_FOLDS)
    hits, order = asked_without(vectors, owners, texts, weights, answers, asked_vectors, asked,
                                phrasing_fold[source], phrasing_fold, IN_SCOPE_FOLDS)
    inside = cal.declined(cal.Samples.from_hits(entry[order].tolist(), hits), asked_vectors[order], ex_vectors)
    entry_fold = entry_folds(len(version.entries), FOLDS)
    hits, order = asked_without(vectors, owners, texts, weights, answers, asked_vectors, asked,
                                entry_fold[entry], entry_fold[owners], FOLDS)
    outside = cal.declined(cal.Samples.from_hits([cal.ENTRY_OUT] * len(order), hits), asked_vectors[order],
                           ex_vectors)
    generic = list(dict.fromkeys(w for t in oos_texts for w in windows(t)))
    samples = inside + outside
    if generic:
        g_vectors = embed(generic)
        samples = samples + cal.declined(cal.query_samples(version, g_vectors, [-1] * len(generic), generic),
                                         g_vectors, ex_vectors)
    return ShortSamples(samples, len(asked), len(np.unique(entry)))


def with_short(thresholds: Thresholds, short: ShortSamples | None, target_precision: float,
               oos_share: float = 0.25,
               in_domain_share: float = cal.IN_DOMAIN_SHARE) -> tuple[Thresholds, dict | None]:
    """``thresholds`` with the short pair chosen on ``short`` (none when there is nothing to
    choose on): the most right answers at the target precision, however few (never answering a
    short message at all when no threshold reaches it)."""
    if short is None:
        return replace(thresholds, short_answer=None, short_margin=None), None
    chosen, report = cal.choose_thresholds(short.samples, target_precision, oos_share, base=thresholds,
                                           in_domain_share=in_domain_share, min_coverage=0.0)
    short_answer = max(chosen.answer, thresholds.clarify)
    report = {"windows": short.windows, "entries": short.entries, "answer": short_answer,
              "margin": chosen.margin, **{k: report[k] for k in (
                  "samples_in_scope", "samples_out_of_scope", "samples_entry_out", "target_reached",
                  "estimated_precision", "estimated_in_scope_accuracy")}}
    return replace(thresholds, short_answer=short_answer, short_margin=chosen.margin), report
