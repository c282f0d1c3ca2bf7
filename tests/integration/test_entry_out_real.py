"""Real model, a small held-out-intent split of Banking77 (issue 18): corpus-only calibration with
refitted leave-entry-out samples (the default) must answer fewer questions about intents the FAQ
does not cover, and be far more precise, than the old calibration (generic out-of-scope samples
only: measured 0.745) and than leave-entry-out without refit (calib-old: 0.777) on the same build;
and keep a clarify window. Measured here 0.877 at a promised 0.95: within 0.08, not yet the 0.05 the
issue asks on this small split (the full Banking77 split is in bench/entry_out.py's figures)."""

import pytest

from bench import entry_out, splits
from bench.datasets import DATASETS
from bot.kb.calibrate import IN_DOMAIN_SHARE

SOURCE = DATASETS / "banking77" / "train.csv"
BEFORE, AFTER = entry_out.ROWS[0][0], entry_out.ROWS[1][0]


@pytest.mark.skipif(not SOURCE.is_file(), reason=f"Banking77 not found at {SOURCE} "
                    "(set SUPPORTBOT_DATASETS to the shared datasets folder)")
def test_leave_entry_out_calibration_declines_more_uncovered_intents(tmp_path, real_encoder):
    train, test = splits.read_banking77()
    names = splits.sample_intents(list(dict.fromkeys(i for _, i in train)), 30)  # seed 7
    keep = set(names)
    split = splits.held_out_intents([r for r in train if r[1] in keep], [r for r in test if r[1] in keep],
                                    splits.sample_intents(names, 20), shots=10)
    files = split.write(tmp_path / "set")
    result = entry_out.compare(files["corpus"], files["test"], tmp_path / "idx", real_encoder, [], True, 0.95)
    before, after = result["rows"][BEFORE], result["rows"][AFTER]
    print(result["rows"])
    assert result["queries"] == 1200
    assert entry_out.ROWS[1][1:] == (IN_DOMAIN_SHARE, True)  # "after" is what kb build calibrates with
    assert after["precision"] >= 0.85  # main 0.745, no refit 0.777
    assert abs(after["precision"] - 0.95) <= 0.08
    assert after["precision"] >= before["precision"] + 0.1
    assert after["oos_recall"] + after["clarified"] >= before["oos_recall"] + before["clarified"] - 0.01
    assert after["answer"] > before["answer"]
    assert after["clarify"] <= after["answer"] - 0.08  # "did you mean" keeps its window
