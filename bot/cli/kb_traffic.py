"""``supportbot kb calibrate --from-traffic``: thresholds from labelled real questions, and what
the corpus-only calibration promised against what was measured on them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from bot.cli.errors import EXIT_OK, CliError
from bot.settings import Settings


def calibrate_from_traffic(args: argparse.Namespace, settings: Settings, index: Path, version: Any,
                           encoder: Any, target: float, examples: Sequence[str]) -> int:
    from bot.db import engine
    from bot.inbox.labels import collect
    from bot.kb.index import current_path
    from bot.kb.traffic_calibration import TooFewLabels
    from bot.kb.traffic_calibration import calibrate_from_traffic as calibrate

    min_labels = settings.traffic_min_labels if args.min_labels is None else args.min_labels
    if min_labels < 1:
        raise CliError("--min-labels must be at least 1")
    import sqlalchemy as sa

    try:
        labels = collect(engine(settings.handoff_db_url), set(version.by_id))
    except sa.exc.SQLAlchemyError as exc:
        raise CliError(f"cannot read the labelled questions from the hand-off database "
                       f"(SUPPORTBOT_HANDOFF_DB / SUPPORTBOT_HANDOFF_URL): {exc.orig or exc}; it is created by "
                       "'supportbot run'. The thresholds are unchanged") from exc
    try:
        thresholds, report = calibrate(current_path(index), encoder, index, labels.questions,
                                       labels_report=labels.report, min_labels=min_labels,
                                       target_precision=target, oos_share=args.oos_share,
                                       out_of_scope=examples, k=settings.search_k)
    except TooFewLabels as exc:
        raise CliError(f"{exc}\n{_collected(labels.report)}") from exc
    except ValueError as exc:
        raise CliError(f"{exc}; the thresholds are unchanged") from exc
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"thresholds: answer {thresholds.answer}, margin {thresholds.margin}, clarify {thresholds.clarify}")
    for line in summary(report):
        print(line)
    if not report["target_reached"]:
        print(f"warning: the target precision {target} cannot be reached on these samples; the setting "
              "with the best F0.5 (precision weighted over coverage) was kept", file=sys.stderr)
    return EXIT_OK


def _collected(labels: dict) -> str:
    sources = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in labels.get("labels_by_source", {}).items())
    return (f"labels found: {sources or 'none'}; {labels.get('questions', 0)} questions after merging, "
            f"{labels.get('dropped_entry_gone', 0)} labels of deleted entries dropped, "
            f"{labels.get('conflicts', 0)} questions labelled two ways left out")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary(report: dict) -> list[str]:
    """What the thresholds rest on and the calibration error, as lines of text."""
    t = report["traffic"]
    labels = t["labels"]
    period = labels.get("period") or {}
    lines = [f"rests on: {report['source']}",
             "labelled questions by source: " + (", ".join(
                 f"{s.replace('_', ' ')} {n}" for s, n in labels.get("usable_by_source", {}).items()) or "none")
             + (f"; from {period['from']} to {period['to']}" if period.get("from") else "")]
    left = labels.get("left_out") or {}
    if left or labels.get("conflicts") or labels.get("overridden"):
        lines.append("left out: " + ", ".join([f"{n} {k.replace('_', ' ')}" for k, n in left.items()]
                                              + [f"{labels.get('conflicts', 0)} labelled two ways",
                                                 f"{labels.get('overridden', 0)} votes an editor overrode"]))
    for c in labels.get("conflict_examples", [])[:5]:
        lines.append(f"  conflict: {c['question']!r}: {', '.join(c['labels'])}")
    lines.append(f"calibration error (promised {t['promised']}; measured by {t['folds']}-fold cross-validation "
                 "over the labelled questions, out of scope weighted to the assumed share):")
    for name, key in (("corpus-only", "corpus_only"), ("from traffic", "from_traffic")):
        part = t[key]
        m = part.get("measured") or {}
        lines.append(f"  {name:<13} estimated {_pct(part['estimated_precision'])}, measured precision "
                     f"{_pct(m.get('precision'))} (error {_pct(t['calibration_error'][key])}), in-scope "
                     f"accuracy {_pct(m.get('in_scope_accuracy'))}, out-of-scope answered "
                     f"{_pct(m.get('oos_answered'))}")
    return lines
