"""Calibrating from labelled real questions with the real encoder and the demo FAQ: near-topic
questions an editor marked "not ours" (tests/integration/test_out_of_scope_real.py's, in the
out-of-scope file as "not ours" puts them) are answered by the corpus-only thresholds far more
often than the promise allows; calibrated on the labelled questions (the held-out demo questions
as customers' helpful votes, the near-topic ones as "not ours", one inbox action per family), the
precision measured by cross-validation keeps the promise within 0.06, and the report says so."""

import csv
import shutil

from bot.kb.corpus import load_corpus
from bot.kb.index import IndexVersion, current_path
from bot.kb.ops import build
from bot.kb.traffic import LabelledQuestion
from bot.kb.traffic_calibration import calibrate_from_traffic
from tests.helpers import seed_index
from tests.integration.test_out_of_scope_real import FAMILIES, OTHER_TOPICS

TARGET = 0.9  # what the base model on the demo FAQ can reach at a useful coverage (0.95 it cannot)


def labelled(root):
    with open(root / "eval" / "demo_heldout.csv", encoding="utf-8") as fh:
        questions = [LabelledQuestion(r["query"], entry_id=r["expected_id"], sources=("vote_helpful",))
                     for r in csv.DictReader(fh) if r["expected_id"]]
    for n, family in enumerate(FAMILIES):
        questions += [LabelledQuestion(t, out_of_scope=True, sources=("inbox_not_ours",),
                                       group=f"action:{n}") for t in family]
    return questions + [LabelledQuestion(t, out_of_scope=True, sources=("inbox_not_ours",))
                        for t in OTHER_TOPICS]


def test_traffic_calibration_keeps_the_promise_that_corpus_only_calibration_misses(tmp_path, root,
                                                                                    real_encoder, index_seed):
    shutil.copytree(root / "data" / "faq", tmp_path / "faq")
    questions = labelled(root)
    not_ours = [q.text for q in questions if q.out_of_scope]
    index_dir = seed_index(index_seed, tmp_path / "kb_index")
    build(load_corpus(tmp_path / "faq"), index_dir, real_encoder, target_precision=TARGET,
          out_of_scope=not_ours)
    path = current_path(index_dir)
    corpus_only = IndexVersion(path).thresholds
    thresholds, report = calibrate_from_traffic(path, real_encoder, index_dir, questions, min_labels=30,
                                                target_precision=TARGET, out_of_scope=not_ours)
    t = report["traffic"]
    print(t["corpus_only"]["measured"], t["from_traffic"]["measured"], t["calibration_error"])
    assert t["labels"]["usable"] == 241 and t["folds"] == 5
    corpus_m, traffic_m = t["corpus_only"]["measured"], t["from_traffic"]["measured"]
    # corpus-only, with the refitted leave-entry-out samples at half the out-of-scope weight: still
    # short of the promise on the demo's labelled near-topic questions (measured 0.46 answered, error
    # 0.079; main: > 0.5 and > 0.09; at 0.8 of the weight 0.24 and 0.046 but a quarter of the demo's
    # coverage lost): what traffic calibration is for
    assert corpus_m["oos_answered"] > 0.35 and t["calibration_error"]["corpus_only"] > 0.05
    # from traffic, held out: within 0.06 of the promise (measured 0.022), and no worse than the
    # corpus alone; still most in-scope questions answered
    assert t["calibration_error"]["from_traffic"] < 0.06
    assert t["calibration_error"]["from_traffic"] <= t["calibration_error"]["corpus_only"] + 0.01
    assert traffic_m["oos_answered"] < 0.4
    assert traffic_m["precision"] > corpus_m["precision"] + 0.05  # measured 0.878 vs 0.821
    assert traffic_m["in_scope_accuracy"] > 0.6
    # traffic moves the corpus-only thresholds
    assert (thresholds.answer, thresholds.margin) != (corpus_only.answer, corpus_only.margin)
    assert IndexVersion(path).thresholds == thresholds  # what the bot serves now
