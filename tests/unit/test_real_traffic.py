"""bench/real_traffic.py's pure parts: splits reproducible with seed 7, held-out intents scored as out of
scope, the files `kb build` / `kb eval` read, and the figures of a row on a tiny synthetic case."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import real_traffic, splits  # noqa: E402
from bot.kb.corpus import load_corpus  # noqa: E402
from bot.kb.decision import ANSWER, CLARIFY, MISS, Decision, EntryHit  # noqa: E402
from bot.kb.evaluate import metrics, read_queries  # noqa: E402

NAMES = [f"intent_{n}" for n in range(12)]


def test_sampling_with_seed_7_is_reproducible_and_keeps_the_names_order():
    first = splits.sample_intents(NAMES, 5, seed=7)
    assert first == splits.sample_intents(list(NAMES), 5, seed=7)
    assert first == ["intent_0", "intent_1", "intent_2", "intent_5", "intent_6"]  # pinned: seed 7
    assert first == [n for n in NAMES if n in first]
    assert splits.sample_intents(NAMES, 5, seed=8) != first


def test_sampling_refuses_more_than_there_are():
    with pytest.raises(ValueError, match="cannot sample 13 of 12"):
        splits.sample_intents(NAMES, 13)


def test_per_domain_hold_out_takes_a_third_of_each_domain_and_does_not_depend_on_the_others():
    domains = {"a": [f"a{n}" for n in range(15)], "b": [f"b{n}" for n in range(6)]}
    held = splits.per_domain_held_out(domains, 1 / 3, seed=7)
    assert len([h for h in held if h.startswith("a")]) == 5 and len([h for h in held if h.startswith("b")]) == 2
    assert held == splits.per_domain_held_out(domains, 1 / 3, seed=7)
    alone = splits.per_domain_held_out({"b": domains["b"]}, 1 / 3, seed=7)
    assert alone == [h for h in held if h.startswith("b")]


def test_held_out_intents_become_out_of_scope_queries():
    train = [("t1", "x"), ("t2", "x"), ("t3", "x"), ("u1", "y"), ("u2", "y"), ("v1", "z")]
    test = [("qx", "x"), ("qy", "y"), ("qz", "z")]
    split = splits.held_out_intents(train, test, ["x", "z"], shots=2, extra_oos={"oos": ["weather?"]})
    assert split.entries == {"x": ["t1", "t2"], "z": ["v1"]}
    assert split.queries["test"] == [("qx", "x"), ("qz", "z"), ("qy", None)]
    assert split.queries["oos"] == [("qx", "x"), ("qz", "z"), ("weather?", None)]
    assert split.held_out == ["y"]
    with pytest.raises(ValueError, match="without training utterances"):
        splits.held_out_intents(train, test, ["w"])


def test_banking77_split_is_the_issue_s_50_and_27():
    if not (splits.DATASETS / "banking77" / "train.csv").is_file():
        pytest.skip("Banking77 not in ../shared/datasets")
    split = splits.banking77_held_out(50, 10)
    assert len(split.entries) == 50 and len(split.held_out) == 27
    assert all(len(p) == 10 for p in split.entries.values())
    assert split.held_out[:6] == ["card_arrival", "card_linking", "exchange_via_app", "pin_blocked",
                                  "pending_top_up", "card_payment_fee_charged"]  # seed 7, file order
    oos = [q for q in split.queries["test"] if q[1] is None]
    assert len(oos) == 27 * 40 and len(split.queries["test"]) == 77 * 40


def test_clinc150_domains_cover_its_150_intents_once():
    names = [n for names in splits.CLINC150_DOMAINS.values() for n in names]
    assert len(names) == len(set(names)) == 150


def test_nlu_corpora_none_is_out_of_scope_and_never_an_entry():
    sentences = [
        {"text": "update ubuntu", "intent": "Make Update", "training": True},
        {"text": "upgrade it", "intent": "Make Update", "training": True},
        {"text": "what is love", "intent": "None", "training": True},
        {"text": "how to upgrade", "intent": "Make Update", "training": False},
        {"text": "best pizza", "intent": "None", "training": False},
        {"text": "watch a video", "intent": "Download Video", "training": False},
    ]
    split = splits.labelled_sentences(sentences)
    assert split.entries == {"make-update": ["update ubuntu", "upgrade it"]}
    assert split.queries["test"] == [("how to upgrade", "make-update"), ("best pizza", None)]
    assert split.held_out == ["Download Video"]  # no training sentence: cannot be an entry


def test_stackfaq_single_question_skips_placeholders_and_nulls():
    threads = [{"question": "Strikethrough on GitHub?", "answer": ["*", "Use ~~tildes~~."],
                "rephr": ["cross out text on github", "*", None, " "]},
               {"question": "Delete my Facebook account", "answer": [], "rephr": ["remove fb"]}]
    split = splits.single_question(threads)
    assert split.entries == {"thread-001": ["Strikethrough on GitHub?"],
                             "thread-002": ["Delete my Facebook account"]}
    assert split.answers == {"thread-001": "Use ~~tildes~~."}
    assert split.queries["test"] == [("cross out text on github", "thread-001"), ("remove fb", "thread-002")]


def test_written_files_are_what_kb_build_and_kb_eval_read(tmp_path):
    split = splits.Split({"refund_x": ["get a refund", "money back"], "card-y": ["lost card"]},
                         {"test": [("refund please", "refund_x"), ("pizza", None)]}, {"card-y": "Call us."})
    files = split.write(tmp_path)
    corpus = load_corpus(files["corpus"])
    assert not corpus.errors
    assert {e.id: list(e.phrasings) for e in corpus.entries} == split.entries
    assert {e.id: e.answer for e in corpus.entries}["card-y"] == "Call us."
    queries = read_queries(files["test"], {e.id for e in corpus.entries})
    assert [(q.text, q.expected) for q in queries] == split.queries["test"]


def hits(*ids: str) -> tuple[EntryHit, ...]:
    return tuple(EntryHit(i, 0.9 - 0.1 * n, i) for n, i in enumerate(ids))


def test_a_row_on_a_tiny_synthetic_case():
    expected = ["a", "a", "b", "b", None, None]
    decisions = [
        Decision(ANSWER, hits("a", "b")),   # right
        Decision(ANSWER, hits("b", "a")),   # wrong entry, right one second
        Decision(CLARIFY, hits("b", "a")),  # not answered
        Decision(ANSWER, hits("b")),        # right
        Decision(ANSWER, hits("a")),        # out of scope answered: wrong
        Decision(MISS, hits("b")),          # out of scope declined
    ]
    row = real_traffic.row(metrics(expected, decisions), promised=0.95)
    assert row["answered_precision"] == 0.5  # 2 right of 4 answered
    assert row["calibration_error"] == 0.45
    assert row["coverage"] == 0.75 and row["in_scope_accuracy"] == 0.5 and row["oos_recall"] == 0.5
    assert row["recall_at_1"] == 0.75 and row["mrr"] == 0.875  # ranks 1, 2, 1, 1
    assert (row["n"], row["n_in_scope"], row["n_out_of_scope"]) == (6, 4, 2)


def test_calibration_error_is_none_when_nothing_was_answered():
    assert real_traffic.calibration_error(0.95, None) is None
    assert real_traffic.calibration_error(0.95, 0.97) == 0.02


def test_a_failed_command_s_error_is_recorded_whole():
    stderr = ("warning: x\nerror: no in-scope samples: entries need two or more phrasings to calibrate\n"
              "the build stopped; the serving index is unchanged\n")
    assert real_traffic.error_line(stderr) == ("no in-scope samples: entries need two or more phrasings to "
                                               "calibrate; the build stopped; the serving index is unchanged")
    assert real_traffic.error_line("all good\n") is None


def test_commands_name_the_work_folder():
    work = Path("/tmp/real-traffic-abc")
    argv = ["kb", "build", "--corpus", str(work / "b" / "corpus.yml"), "--answer-weight", "0"]
    assert real_traffic.command(argv, work) == \
        "supportbot kb build --corpus $WORK/b/corpus.yml --answer-weight 0"


def test_the_report_shows_a_failure_as_the_row_s_result():
    results = {"stackfaq-single": {"target_precision": 0.95, "failure": "no in-scope samples", "steps": [],
                                   "sets": {}, "wall_seconds": 3, "peak_rss_mb": 900}}
    text = real_traffic.section(results)
    assert "| stackfaq-single | | 0.95 | **fails**: no in-scope samples |" in text
    assert text.startswith("<!-- real-traffic:start -->") and text.endswith("<!-- real-traffic:end -->")


def test_a_failed_tune_is_said_next_to_the_figures_of_the_built_index():
    figures = real_traffic.row({"answered_precision": 0.9, "coverage": 0.8, "in_scope_accuracy": 0.7,
                                "oos_recall": None, "mrr": 0.85, "recall_at_1": 0.8, "n": 10,
                                "n_in_scope": 10, "n_out_of_scope": 0}, promised=0.95)
    results = {"stackfaq-single": {
        "target_precision": 0.95, "wall_seconds": 3, "cpu_seconds": 2, "peak_rss_mb": 900,
        "steps": [{"command": "supportbot kb build --corpus c", "error": None},
                  {"command": "supportbot kb tune --corpus c", "error": "tuning needs two entries"}],
        "sets": {"test": {"command": "supportbot kb eval", **figures}}}}
    text = real_traffic.section(results)
    assert "| stackfaq-single | none (every query has an entry) | 0.95 | 0.900 | 0.050 | 0.800 |" in text
    assert "`supportbot kb tune` failed: tuning needs two entries." in text
