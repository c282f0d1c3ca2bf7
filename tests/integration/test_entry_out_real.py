"""Real model, Banking77 with held-out intents (bench/splits.py: 50 intents as entries, 10 utterances
each; the test queries of the other 27 as out of scope): corpus-only calibration with leave-entry-out
keeps its promise within 0.05 (bench/real_traffic.py runs this and the other sets, with tuning;
docs/benchmarks.md has the figures)."""

import json

import pytest

from bench import splits
from bot import cli

BANKING77 = splits.DATASETS / "banking77" / "train.csv"


@pytest.mark.skipif(not BANKING77.is_file(), reason=f"Banking77 not found at {BANKING77} "
                    "(set SUPPORTBOT_DATASETS to the shared datasets folder)")
def test_held_out_intents_get_the_promised_precision_with_leave_entry_out(
        tmp_path, real_kb_cli, capsys):
    files = splits.banking77_held_out(50, 10).write(tmp_path / "set")
    index = tmp_path / "idx"
    assert cli.main(["kb", "build", "--corpus", str(files["corpus"]), "--index", str(index),
                     "--answer-weight", "0"]) == 0
    out = capsys.readouterr().out
    assert "500 phrasings asked with their entry left out" in out
    assert cli.main(["kb", "eval", "--index", str(index), "--queries", str(files["test"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["n_in_scope"], report["n_out_of_scope"]) == (2000, 1080)
    # promised 0.95; measured here 0.904 with OOS recall 0.900 (without leave-entry-out: 0.798 and 0.686)
    assert report["answered_precision"] >= 0.90  # the bound: within 0.05 of the promise
    assert report["oos_recall"] >= 0.80  # the issue asks 0.6
    assert report["coverage"] >= 0.55  # the price: 0.79 without it
