"""Stand-in questions for calibration: sentences of an entry's answer, for entries with one phrasing.

Leave-one-out needs two phrasings of an entry; a plain FAQ (one question per entry, the common
kind) has none to spare. What such an entry does have is its answer: each sentence of it is asked
of the index as if a customer had typed it, searched against every phrasing (the entry's question
included, as a real message would be). Each signal scores it as served, except what the sentence
was taken from: the answer evidence of its own entry, which would match its own sentence far better
than any customer's words do; that one is replaced by how the entry's phrasings score against the
answer (``Evidence.for_stand_ins``), as leave-one-out leaves a phrasing out of its own evidence.

Answer sentences are harder to place than customers' questions (on StackFAQ their cosine with the
entry's question averages 0.39, customers' rephrasings 0.74), so thresholds that rest on them err
on the careful side; calibration's source says how many it used (``bench/stackfaq.py`` measures).
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

import numpy as np

from bot.kb.calibrate import NEAREST, Samples, declined
from bot.kb.corpus import FaqEntry
from bot.kb.evidence.answer import answer_text
from bot.kb.index import IndexVersion, score_entries
from bot.kb.query import clean_query

MIN_WORDS = 3  # "Yes." or "See below." says nothing about the entry
MAX_CHARS = 1000  # as a customer message is cut (SUPPORTBOT_MAX_QUERY_CHARS' default)
PER_ENTRY = 5  # the first sentences of each answer: a long answer does not outweigh a short one
# Markdown blocks: paragraphs and list items (a single line break inside a paragraph is a space)
_BLOCK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)])\s)")
_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# a sentence ends at . ! ? followed by a space and a capital or digit: not inside "e.g. this"
_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*_]*[A-Z0-9])")


def answer_sentences(markdown: str, limit: int = PER_ENTRY) -> list[str]:
    """The first ``limit`` sentences of an answer with MIN_WORDS words or more, as plain text.
    A regular expression, not spaCy's sentencizer: importing spaCy costs ~10 s here."""
    out = []
    for block in _BLOCK.split(markdown.strip()):
        for piece in _END.split(" ".join(_MARKER.sub("", block).split())):
            sentence = clean_query(answer_text(piece), MAX_CHARS)
            if len(sentence.split()) >= MIN_WORDS:
                out.append(sentence)
            if len(out) == limit:
                return out
    return out


def single_phrasing_entries(owners: np.ndarray, n_entries: int) -> np.ndarray:
    """Indexes of the entries with exactly one phrasing (nothing for leave-one-out)."""
    return np.flatnonzero(np.bincount(owners, minlength=n_entries) == 1)


def stand_in_questions(entries: Sequence[FaqEntry], which: Iterable[int]) -> tuple[list[str], np.ndarray]:
    """The answer sentences of the entries ``which``, and the entry index each stands in for."""
    texts: list[str] = []
    labels: list[int] = []
    for i in which:
        sentences = answer_sentences(entries[int(i)].answer)
        texts += sentences
        labels += [int(i)] * len(sentences)
    return texts, np.asarray(labels, dtype=np.int64)


def describe(which: str, counts: dict[str, int]) -> str:
    """What the in-scope samples of a corpus-only calibration were, for its source."""
    parts = [f"{which} of {counts['phrasings']} phrasings of {counts['entries_with_alternates']} entries "
             "with alternates"] if counts["phrasings"] else []
    if counts["answer_sentences"]:
        parts.append(f"{counts['answer_sentences']} answer sentences of "
                     f"{counts['entries_with_one_phrasing']} entries with one question, as stand-in questions")
    return " + ".join(parts) or "no in-scope samples"


def caveat(report: dict) -> str | None:
    """A warning when the thresholds rest mostly on stand-in questions: what they estimate, and
    what would make the estimate a better one."""
    counts = report.get("in_scope") or {}
    sentences, phrasings = counts.get("answer_sentences", 0), counts.get("phrasings", 0)
    if sentences <= phrasings:
        return None
    reached = "" if report.get("target_reached") else \
        ", not reached: the thresholds with the best F0.5 were kept"
    return (f"the thresholds rest on {sentences} sentences of answers standing in for customers' "
            f"questions (and {phrasings} phrasings of entries with alternates); on them the estimated "
            f"precision is {report.get('estimated_precision')} (target {report.get('target_precision')}"
            f"{reached}). Answer sentences are harder to place than customers' questions, so this errs "
            "on the careful side; alternates (customers' questions from the inbox) make it a better one")


def samples(version: IndexVersion, vectors: np.ndarray, q_vectors: np.ndarray, labels: np.ndarray,
            texts: Sequence[str], k: int = NEAREST) -> Samples:
    """Answer sentences (:func:`stand_in_questions`, encoded as ``q_vectors``) searched as served, each
    signal leaving out what it learnt from the sentence's own answer (``vectors``: the phrasings')."""
    k = min(k, len(version.texts))
    scores, ids = version.index.search(np.ascontiguousarray(q_vectors, dtype=np.float32), k)
    found = [np.unique(version.owners[i[i >= 0]]) for i in ids]
    per_signal = [(version.weights[name], computation.for_stand_ins(
                      state, computation.scores(state, q_vectors, texts, found), labels, vectors,
                      version.phrasings))
                  for name, (computation, state) in version.signals.items()]
    hits = [[(e, s) for e, s, _ in score_entries(sc, ix, version.owners, [(w, r[n]) for w, r in per_signal])]
            for n, (sc, ix) in enumerate(zip(scores, ids))]
    return Samples.from_hits(labels.tolist(), hits)


def version_samples(version: IndexVersion, vectors: np.ndarray, embed: Callable[[list[str]], np.ndarray],
                    examples: np.ndarray) -> tuple[Samples, dict[str, int]]:
    """The stand-in samples of ``version``'s entries with one phrasing (``vectors``: the phrasings',
    ``embed``: through the embedding cache), out-of-scope ``examples`` declining as served; and
    their counts for the calibration report."""
    texts, labels = stand_in_questions(version.entries, single_phrasing_entries(version.owners,
                                                                                len(version.entries)))
    counts = {"answer_sentences": len(texts), "entries_with_one_phrasing": len(np.unique(labels))}
    if not texts:
        return Samples.from_hits([], []), counts
    q_vectors = embed(texts)
    return declined(samples(version, vectors, q_vectors, labels, texts), q_vectors, examples), counts
