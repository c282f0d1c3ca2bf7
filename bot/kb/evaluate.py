"""Answer-quality metrics over a labelled query file (``query,expected_id``; empty = must not answer)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from bot.kb.decision import ANSWER, CLARIFY, Decision, Thresholds, decide
from bot.kb.encoder import Encoder
from bot.kb.index import IndexVersion
from bot.kb.query import clean_query
from bot.kb.spelling import mend

NONE = "none"


class QueryFileError(ValueError):
    """The query file cannot be used; the message names the line."""


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    expected: str | None  # None: out of scope, must not be answered
    line: int = 0


def read_queries(path: Path, known_ids: set[str] | None = None) -> list[LabelledQuery]:
    """Read a CSV with header ``query,expected_id``; every problem names its line."""
    if not path.is_file():
        raise QueryFileError(f"{path}: no such file; pass --queries with a CSV of query,expected_id")
    out: list[LabelledQuery] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"query", "expected_id"} <= set(reader.fieldnames):
            raise QueryFileError(f"{path}:1: the header must be 'query,expected_id', "
                                 f"got {reader.fieldnames}")
        for row in reader:
            line = reader.line_num
            text = (row.get("query") or "").strip()
            expected = (row.get("expected_id") or "").strip() or None
            if not text:
                raise QueryFileError(f"{path}:{line}: empty query")
            if known_ids is not None and expected is not None and expected not in known_ids:
                raise QueryFileError(f"{path}:{line}: expected_id '{expected}' is not an entry of "
                                     "the index; check the id or rebuild the index")
            out.append(LabelledQuery(text, expected, line))
    if not out:
        raise QueryFileError(f"{path}: no queries")
    return out


def search_queries(version: IndexVersion, encoder: Encoder, texts: Sequence[str], k: int = 20,
                   max_chars: int = 1000):
    return search_and_decline(version, encoder, texts, k, max_chars)[0]


def search_and_decline(version: IndexVersion, encoder: Encoder, texts: Sequence[str], k: int = 20,
                       max_chars: int = 1000, spelling: bool = True) -> tuple[list, list[str | None]]:
    """Each text's hits, and the out-of-scope example that declines it (or None); ``spelling``:
    mend unknown words first, as serving does (bot/kb/spelling.py)."""
    cleaned = [clean_query(t, max_chars) for t in texts]
    cleaned = mend(cleaned, version) if spelling else cleaned
    vectors = encoder.encode(cleaned, batch_size=128)
    hits = version.search(vectors, k, cleaned)
    return hits, version.declined_by(vectors, hits)


def evaluate(version: IndexVersion, encoder: Encoder, queries: Sequence[LabelledQuery],
             thresholds: Thresholds | None = None, k: int = 20) -> tuple[dict, list[Decision]]:
    all_hits, declined = search_and_decline(version, encoder, [q.text for q in queries], k)
    t = thresholds or version.thresholds
    decisions = [decide(h, t, version.overrides, d, q.text) for h, d, q in zip(all_hits, declined, queries)]
    return metrics([q.expected for q in queries], decisions), decisions


def metrics(expected: Sequence[str | None], decisions: Sequence[Decision]) -> dict:
    """The report keys of ``kb eval --json``; see docs/faq-format.md for their meaning."""
    from sklearn.metrics import matthews_corrcoef

    if len(expected) != len(decisions):
        raise ValueError("one decision per query is needed")
    n = len(expected)
    in_scope = [i for i, e in enumerate(expected) if e is not None]
    oos = [i for i, e in enumerate(expected) if e is None]
    predicted = [d.entry_id if d.kind == ANSWER else None for d in decisions]
    answered = [i for i, p in enumerate(predicted) if p is not None]
    correct = [i for i in in_scope if predicted[i] == expected[i]]

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    ranks = []
    for i in in_scope:
        ids = [h.entry_id for h in decisions[i].hits]
        want = expected[i]
        ranks.append(ids.index(want) + 1 if want is not None and want in ids else None)
    y_true = [e or NONE for e in expected]
    y_pred = [p or NONE for p in predicted]
    mcc = float(matthews_corrcoef(y_true, y_pred)) if n else 0.0
    clarified = [i for i in in_scope if decisions[i].kind == CLARIFY]
    clarify_hit = [i for i in clarified
                   if expected[i] in [o.entry_id for o in decisions[i].options]]
    return {
        "n": n,
        "n_in_scope": len(in_scope),
        "n_out_of_scope": len(oos),
        "in_scope_accuracy": ratio(len(correct), len(in_scope)),
        "oos_recall": ratio(sum(1 for i in oos if predicted[i] is None), len(oos)),
        "answered_precision": ratio(len(correct), len(answered)),
        "coverage": ratio(sum(1 for i in in_scope if predicted[i] is not None), len(in_scope)),
        "mcc": round(mcc, 4),
        "recall_at_1": ratio(sum(1 for r in ranks if r == 1), len(in_scope)),
        "recall_at_3": ratio(sum(1 for r in ranks if r is not None and r <= 3), len(in_scope)),
        "mrr": round(float(np.mean([1 / r if r else 0.0 for r in ranks])), 4) if ranks else None,
        "clarify_rate": ratio(len([i for i in range(n) if decisions[i].kind == CLARIFY]), n),
        "clarify_hit": ratio(len(clarify_hit), len(in_scope)),
    }
