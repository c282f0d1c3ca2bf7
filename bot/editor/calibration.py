"""What the serving thresholds rest on, as the editor page's Calibration panel shows it: the serving
version's calibration report (corpus-only, or from labelled real questions with promised vs
measured precision), the labelled questions there are now, and the latest calibrations from traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from bot.inbox.labels import Collected
from bot.kb.index import IndexVersion, KbIndexError, current_path
from bot.kb.traffic_calibration import read_log

REPORTED = ("calibrated_at", "source", "target_precision", "target_reached", "estimated_precision",
            "estimated_in_scope_accuracy", "estimated_oos_answered", "samples_in_scope",
            "samples_out_of_scope", "samples_entry_out", "out_of_scope_examples", "in_scope", "thresholds",
            "traffic")


def calibration_view(index_dir: Path, labelled: Callable[[set[str]], Collected], min_labels: int,
                     after_labels: int) -> dict[str, Any]:
    try:
        version = IndexVersion(current_path(index_dir))
    except KbIndexError as exc:
        return {"serving": None, "error": str(exc), "history": read_log(index_dir)}
    try:
        report = json.loads((version.path / "calibration.json").read_text("utf-8"))
    except (OSError, ValueError):
        report = {}
    labels = labelled(set(version.by_id))
    kinds = [q.kind for q in labels.questions]
    return {
        "serving": {"index_version": version.name, "thresholds": version.thresholds.to_json(),
                    **{key: report.get(key) for key in REPORTED if key in report}},
        "labels_now": {**labels.report, "in_scope": kinds.count("in_scope"),
                       "out_of_scope": kinds.count("out_of_scope"), "not_entry": kinds.count("not_entry"),
                       "min_labels": min_labels, "recalibrate_after": after_labels},
        "history": read_log(index_dir),
    }
