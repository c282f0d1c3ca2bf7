"""Thresholds from labelled real questions, and the calibration error: what the corpus-only
calibration promised against the precision measured on real traffic.

How the samples are combined: with ``FULL`` or more usable labelled questions they alone set the
thresholds; with fewer, the corpus's samples (``ops.corpus_samples``, less any that are labelled
questions themselves) are kept, and the labelled questions are counted several times over so that
together they weigh as much as the corpus's samples (``repeated``).

How it is measured, never on what set the thresholds: ``FOLDS``-fold cross-validation across the
labelled questions (``traffic.LabelledQuestion.fold``: one inbox action's questions share a fold).
For each fold, thresholds are chosen without it, both ways (corpus-only: the corpus's samples
minus the fold's questions; from traffic: the other folds, combined as above), and the fold's
questions are decided with them; the decisions of all folds are pooled. Out-of-scope questions
are weighted to ``oos_share`` of the traffic, as the calibration weighs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.kb import calibrate as cal
from bot.kb.decision import TARGET_PRECISION, Thresholds
from bot.kb.encoder import Encoder
from bot.kb.files import write_atomic
from bot.kb.index import IndexVersion, embed_phrasings
from bot.kb.models import held_out_rows
from bot.kb.ops import CorpusSamples, corpus_samples, example_vectors
from bot.kb.out_of_scope import normalised, save_examples
from bot.kb.traffic import FOLDS, LabelledQuestion, TrafficSamples, repeated, subset, traffic_samples

FULL = 300  # usable labelled questions from which on the corpus's samples are left out
LOG = "calibrations.jsonl"  # in the index folder: one line per calibration from traffic


class TooFewLabels(ValueError):
    """Not enough usable labelled questions; the message says how many and how to get more."""


@dataclass
class Combined:
    samples: cal.Samples
    with_corpus: bool
    weight: int  # how many times each labelled question counts


def combine(traffic: cal.Samples, corpus: cal.Samples | None) -> Combined:
    n_t, n_c = len(traffic.labels), 0 if corpus is None else len(corpus.labels)
    if n_t >= FULL or n_c == 0 or corpus is None:
        return Combined(traffic, False, 1)
    weight = max(1, round(n_c / max(n_t, 1)))
    # Real "not ours" questions replace the corpus's leave-entry-out samples (bot.kb.entry_out), an
    # easier approximation of the same near-topic kind that would dilute them.
    corpus = subset(corpus, np.flatnonzero(corpus.labels != cal.ENTRY_OUT))
    return Combined(corpus + repeated(traffic, weight), True, weight)


def measured(samples: cal.Samples, answered: np.ndarray, right: np.ndarray, oos_share: float) -> dict:
    """Precision of the answers (out of scope weighted to ``oos_share``), in-scope accuracy and
    the share of out-of-scope questions answered."""
    oos = samples.labels < 0
    in_scope = (samples.labels >= 0) & (samples.labels != np.iinfo(np.int64).max)
    n_in, n_oos = int((~oos).sum()), int(oos.sum())
    weight = np.where(oos, (oos_share / (1 - oos_share)) * n_in / n_oos if n_oos and n_in else 1.0, 1.0)
    total = float(weight[answered].sum())
    return {"samples": len(samples.labels), "answered": int(answered.sum()),
            "precision": round(float(weight[right].sum()) / total, 4) if total else None,
            "in_scope_accuracy": round(float(right[in_scope].mean()), 4) if in_scope.any() else None,
            "oos_answered": round(float(answered[oos].mean()), 4) if n_oos else None}


def cross_validate(traffic: TrafficSamples, corpus: CorpusSamples, target: float, oos_share: float,
                   base: Thresholds) -> dict[str, Any]:
    """Both calibrations' pooled held-out decisions on the labelled questions (see the docstring)."""
    keys = np.asarray([normalised(q.text) for q in traffic.questions], dtype=object)
    corpus_keys = np.asarray(corpus.keys, dtype=object)
    is_traffic = np.isin(corpus_keys, keys)
    rest = subset(corpus.samples, np.flatnonzero(~is_traffic))
    tests, corpus_only, from_traffic, skipped = [], [], [], []
    for fold in range(FOLDS):
        test = traffic.folds == fold
        if not test.any():
            continue
        held = subset(traffic.samples, np.flatnonzero(test))
        try:
            own = cal.choose_thresholds(subset(corpus.samples, np.flatnonzero(
                ~np.isin(corpus_keys, keys[test]))), target, oos_share, base=base)[0]
            train = combine(subset(traffic.samples, np.flatnonzero(~test)), rest).samples
            chosen = cal.choose_thresholds(train, target, oos_share, base=base)[0]
        except ValueError:  # a fold without in-scope samples to choose on
            skipped.append(fold)
            continue
        tests.append(held)
        corpus_only.append(cal.answered_by(held, own))
        from_traffic.append(cal.answered_by(held, chosen))
    if not tests:
        return {"folds": 0, "folds_skipped": skipped}
    pooled = sum(tests[1:], tests[0])

    def pool(decisions: list[tuple[np.ndarray, np.ndarray]]) -> dict:
        return measured(pooled, np.concatenate([a for a, _ in decisions]),
                        np.concatenate([r for _, r in decisions]), oos_share)

    return {"folds": len(tests), "folds_skipped": skipped, "corpus_only": pool(corpus_only),
            "traffic": pool(from_traffic)}


def calibrate_from_traffic(path: Path, encoder: Encoder, index_dir: Path, questions: Sequence[LabelledQuestion],
                           *, min_labels: int, labels_report: dict | None = None,
                           target_precision: float = TARGET_PRECISION, oos_share: float = 0.25,
                           out_of_scope: Sequence[str] = (), k: int = 20) -> tuple[Thresholds, dict]:
    """Calibrate the version at ``path`` on the labelled ``questions`` (with the corpus's samples
    while they are few), store the thresholds and the report there, and log the report.
    ``labels_report``: how the questions were collected (``bot.inbox.labels``), kept in the report.
    Raises TooFewLabels when fewer than ``min_labels`` are usable; nothing is written then."""
    version = IndexVersion(path)
    examples = list(out_of_scope)
    ex_vectors = example_vectors(index_dir, encoder, examples, version.index.d)
    vectors, _ = embed_phrasings(index_dir, encoder, version.texts)
    held = held_out_rows(version)  # a tuned model trained on every other phrasing
    trained = None if version.model_path is None else np.setdiff1d(
        np.arange(len(version.texts)), held if held is not None else np.zeros(0, dtype=np.int64))
    traffic = traffic_samples(version, vectors, lambda texts: embed_phrasings(index_dir, encoder, texts)[0],
                              questions, examples, ex_vectors, trained, k)
    counts = _counts(traffic)
    if counts["usable"] < max(min_labels, 1):
        raise TooFewLabels(_too_few(counts, traffic, min_labels))
    corpus = corpus_samples(version, encoder, index_dir, vectors, examples, ex_vectors, target_precision)
    promised = cal.choose_thresholds(corpus.samples, target_precision, oos_share, base=version.thresholds)[1]
    rest = subset(corpus.samples, np.flatnonzero(~np.isin(np.asarray(corpus.keys, dtype=object),
                                                          [normalised(q.text) for q in traffic.questions])))
    combined = combine(traffic.samples, rest)
    checked = cross_validate(traffic, corpus, target_precision, oos_share, version.thresholds)
    source = (f"calibrated on {counts['usable']} labelled real questions ({counts['in_scope']} in scope, "
              f"{counts['out_of_scope']} out of scope, {counts['not_entry']} wrong answers"
              + (f"; {_period(traffic)}" if _period(traffic) else "") + ")"
              + (f" with the corpus's {len(rest.labels)} samples (each question counted {combined.weight}x)"
                 if combined.with_corpus else "") + f", target precision {target_precision}")
    thresholds, report = cal.choose_thresholds(combined.samples, target_precision, oos_share,
                                               base=version.thresholds, source=source)
    measured_cv = checked.get("traffic", {}).get("precision")
    promised_cv = checked.get("corpus_only", {}).get("precision")
    report.update({
        "calibrated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "index_version": version.name, "source": source, "out_of_scope_examples": len(examples),
        "traffic": {
            "labels": {**(labels_report or {}), **counts, "period": _period_json(traffic)},
            "combined_with_corpus": combined.with_corpus, "corpus_samples": len(rest.labels),
            "weight": combined.weight, "full_from": FULL,
            "promised": target_precision,
            "corpus_only": {"estimated_precision": promised["estimated_precision"],
                            "thresholds": promised["thresholds"], "measured": checked.get("corpus_only")},
            "from_traffic": {"estimated_precision": report["estimated_precision"],
                             "measured": checked.get("traffic")},
            "folds": checked["folds"], "folds_skipped": checked["folds_skipped"],
            "calibration_error": {
                "corpus_only": None if promised_cv is None else round(target_precision - promised_cv, 4),
                "from_traffic": None if measured_cv is None else round(target_precision - measured_cv, 4)},
        }})
    save_examples(path, examples, ex_vectors)
    cal.save(path, thresholds, report)
    append_log(index_dir, report)
    return thresholds, report


def _counts(traffic: TrafficSamples) -> dict[str, Any]:
    kinds = [q.kind for q in traffic.questions]
    by_source: dict[str, int] = {}
    for q in traffic.questions:
        for s in q.sources:
            by_source[s] = by_source.get(s, 0) + 1
    return {"usable": len(kinds), "in_scope": kinds.count("in_scope"),
            "out_of_scope": kinds.count("out_of_scope"), "not_entry": kinds.count("not_entry"),
            "usable_by_source": by_source,
            "left_out": dict(traffic.left_out)}


_WHY = {"entry_gone": "their entry no longer exists", "trained_on": "the tuned encoder trained on them",
        "unknown_now": "voted not helpful, but another entry answers them now",
        "only_phrasing": "each is the only question of its entry"}


def _too_few(counts: dict, traffic: TrafficSamples, min_labels: int) -> str:
    left = "; ".join(f"{n} left out: {_WHY.get(k, k)}" for k, n in counts["left_out"].items())
    return (f"{counts['usable']} usable labelled questions ({counts['in_scope']} in scope, "
            f"{counts['out_of_scope']} out of scope, {counts['not_entry']} wrong answers"
            + (f"; {left}" if left else "") + f"), fewer than the {min_labels} needed (--min-labels, "
            "SUPPORTBOT_TRAFFIC_MIN_LABELS). Label more in the editor's inbox (add questions as alternates "
            "of an entry, or mark them 'not ours'); customers' helpful votes count too. "
            "The thresholds are unchanged")


def _period_json(traffic: TrafficSamples) -> dict[str, str | None]:
    times = sorted(q.at for q in traffic.questions if q.at is not None)
    return {"from": times[0].isoformat(timespec="seconds") if times else None,
            "to": times[-1].isoformat(timespec="seconds") if times else None}


def _period(traffic: TrafficSamples) -> str:
    p = _period_json(traffic)
    return f"labelled {p['from'][:10]} to {p['to'][:10]}" if p["from"] and p["to"] else ""


def append_log(index_dir: Path, report: dict) -> None:
    """One line per calibration from traffic, newest last (the editor's Calibration panel)."""
    line = {"at": report.get("calibrated_at"), "index_version": report.get("index_version"),
            "source": report.get("source"), "thresholds": report.get("thresholds"),
            "traffic": {k: report["traffic"][k] for k in ("labels", "calibration_error", "promised")},
            "measured": report["traffic"]["from_traffic"]["measured"],
            "corpus_only_measured": report["traffic"]["corpus_only"]["measured"]}
    log = index_dir / LOG
    previous = log.read_text("utf-8").splitlines()[-199:] if log.exists() else []
    text = "\n".join([*previous, json.dumps(line, ensure_ascii=False)]) + "\n"
    write_atomic(log, text)


def read_log(index_dir: Path, limit: int = 10) -> list[dict]:
    """The latest calibrations from traffic, newest first."""
    try:
        lines = (index_dir / LOG).read_text("utf-8").splitlines()
    except OSError:
        return []
    out = []
    for raw in reversed(lines[-limit:]):
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out

