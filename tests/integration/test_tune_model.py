"""Real model: `kb tune` adapts the encoder, the tuned model serves, and a stale one is ignored."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.datasets import DATASETS, banking77
from bot.apps.supervisor import ensure_index
from bot.cli import main as cli
from bot.kb.corpus import Corpus, load_corpus
from bot.kb.encoder import SentenceTransformerEncoder
from bot.kb.evaluate import LabelledQuery, evaluate, read_queries
from bot.kb.index import IndexVersion, current_path
from bot.kb.models import fresh_tuned
from bot.kb.serving import KnowledgeBase
from bot.kb.tune import TuneOptions, tune
from bot.settings import Settings


def separation(encoder, corpus, queries):
    """Per held-out query: cosine to its entry's best phrasing minus the best other entry's."""
    texts = [p for e in corpus.entries for p in e.phrasings]
    owners = np.array([i for i, e in enumerate(corpus.entries) for _ in e.phrasings])
    index_of = {e.id: i for i, e in enumerate(corpus.entries)}
    sims = encoder.encode([q.text for q in queries]) @ encoder.encode(texts).T
    per_entry = np.full((len(queries), len(corpus.entries)), -1.0)
    for entry in range(len(corpus.entries)):
        per_entry[:, entry] = sims[:, owners == entry].max(axis=1)
    right = np.array([index_of[q.expected] for q in queries])
    own = per_entry[np.arange(len(queries)), right]
    per_entry[np.arange(len(queries)), right] = -1.0
    return own - per_entry.max(axis=1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, root):
    """The demo FAQ tuned once (about a minute), in a copy the tests may edit."""
    work = tmp_path_factory.mktemp("tune")
    shutil.copytree(root / "data" / "faq", work / "faq")
    corpus = load_corpus(work / "faq")
    result = tune(corpus, work / "kb_index", options=TuneOptions(seed=13))
    return work, corpus, result


def test_tuning_separates_held_out_questions_better(demo, root, real_encoder):
    work, corpus, result = demo
    queries = [q for q in read_queries(root / "eval" / "demo_heldout.csv") if q.expected]
    before = separation(real_encoder, corpus, queries)
    after = separation(SentenceTransformerEncoder(result.path), corpus, queries)
    # queries the nearest phrasing gets right: separation > 0; the tuned model must get more of
    # them right and push the right entry further ahead of the runner-up on average
    assert (after > 0).mean() >= (before > 0).mean() + 0.01, ((after > 0).mean(), (before > 0).mean())
    assert np.median(after) >= np.median(before) + 0.03, (np.median(after), np.median(before))
    assert result.manifest["loss_last_tenth"] < result.manifest["loss_first_tenth"]


def test_tuning_generalises_to_the_alternates_it_held_out(demo, real_encoder):
    """The alternates kept out of training (one per entry) are FAQ phrasings the model never saw:
    searched against the rest of their corpus, they land on their own entry more often."""
    work, corpus, result = demo
    held = result.manifest["held_out"]
    assert len(held) == len(corpus.entries)  # every demo entry has 4+ phrasings
    rest = Corpus([replace(e, alternates=tuple(a for a in e.alternates if a != held[e.id]))
                   for e in corpus.entries], [], corpus.files)
    queries = [LabelledQuery(text, entry) for entry, text in held.items()]
    before = separation(real_encoder, rest, queries)
    after = separation(SentenceTransformerEncoder(result.path), rest, queries)
    assert (after > 0).mean() >= (before > 0).mean() + 0.05, ((after > 0).mean(), (before > 0).mean())


def test_tuning_is_deterministic_and_cheap_to_rerun(demo, tmp_path):
    work, corpus, result = demo
    again = tune(corpus, work / "kb_index")
    assert again.up_to_date and again.path == result.path  # nothing retrained
    # same corpus, same seed: the same weights (a 20-entry slice keeps this quick)
    part = Corpus(corpus.entries[:20], [], corpus.files)
    one, two, three = (tune(part, tmp_path / name, options=TuneOptions(epochs=2, seed=seed))
                       for name, seed in (("a", 13), ("b", 13), ("c", 14)))
    probe = ["where is my parcel", "can I pay with paypal"]
    a, b, c = (SentenceTransformerEncoder(r.path).encode(probe) for r in (one, two, three))
    assert np.allclose(a, b, atol=1e-5) and not np.allclose(a, c, atol=1e-4)


def test_supportbot_run_indexes_with_the_tuned_model_without_retraining(demo, root):
    work, corpus, result = demo
    settings = Settings(root=work, corpus=Path("faq"), index_dir=Path("kb_index"))
    trained_at = result.manifest["trained_at"]
    ensure_index(settings)  # what `supportbot run` does before starting the servers
    version = IndexVersion(current_path(work / "kb_index"))
    assert version.model_path == result.path
    assert json.loads((result.path / "tune.json").read_text())["trained_at"] == trained_at
    assert version.manifest["lexical_weight"] == settings.lexical_weight > 0
    # what the demo bot serves, on held-out customer questions (docs/benchmarks.md)
    queries = read_queries(root / "eval" / "demo_heldout.csv", set(version.by_id))
    report, _ = evaluate(version, SentenceTransformerEncoder(result.path), queries)
    print("served demo, held-out:", {k: report[k] for k in ("answered_precision", "coverage", "mcc")})
    assert report["answered_precision"] >= FLOOR_PRECISION and report["coverage"] >= FLOOR_COVERAGE


SUPERVISOR = """
import json, sys
from pathlib import Path
from bot.apps.supervisor import ensure_index
from bot.settings import Settings
ensure_index(Settings(root=Path(sys.argv[1]), corpus=Path("faq"), index_dir=Path("kb_index")))
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) / 1024
print(json.dumps({"heavy": sorted(m for m in ("torch", "faiss", "sentence_transformers", "transformers")
                                   if m in sys.modules), "rss_mb": rss}))
"""


def test_supportbot_run_prepares_in_a_child_and_stays_small_and_quiet(demo, root):
    """The supervisor prints its steps, not the libraries' notices, and loads no model itself."""
    work, _, _ = demo
    shutil.rmtree(work / "kb_index" / "versions", ignore_errors=True)  # a build is needed (the tuned
    (work / "kb_index" / "CURRENT").unlink(missing_ok=True)               # model is kept)
    done = subprocess.run([sys.executable, "-c", SUPERVISOR, str(work)], cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    *steps, last = done.stdout.rstrip().splitlines()
    assert json.loads(last)["heavy"] == [] and json.loads(last)["rss_mb"] < 100, last
    assert 2 <= len(steps) <= 5 and all(line.startswith("  ") for line in steps), steps
    assert any("built index" in line for line in steps)
    assert done.stderr == "", done.stderr  # progress bars, load reports and warnings: in the log only
    assert "INFO" in (work / ".run" / "index.log").read_text()


# measured when this test was written: 0.973 / 0.907 (issue 6 goal: 0.97 at 0.85); a floor two or
# three wrong answers below (one is about 0.005 of precision)
FLOOR_PRECISION, FLOOR_COVERAGE = 0.96, 0.87


def test_cli_tune_serves_the_tuned_model_until_the_phrasings_change(demo, capsys):
    work, corpus, result = demo
    faq, index = work / "faq", work / "kb_index"
    assert cli(["kb", "tune", "--corpus", str(faq), "--index", str(index)]) == 0
    version = IndexVersion(current_path(index))
    assert version.model == result.path.name and version.model_path == result.path
    assert "models/tuned-" in json.loads((version.path / "manifest.json").read_text())["model_ref"]
    # thresholds come from the phrasings the model never trained on, not from ones it memorised
    calibration = json.loads((version.path / "calibration.json").read_text())
    assert calibration["samples_in_scope"] == len(result.manifest["held_out"])

    kb = KnowledgeBase(index)
    kb.reload()
    assert kb.serving_encoder.name == result.path.name
    assert kb.ask("how long do refunds take").decision.entry_id == "refund-time"

    # an answer edit keeps the tuned model (training never reads answers)
    refunds = faq / "refunds.yml"
    refunds.write_text(refunds.read_text().replace("3 business days", "2 business days"))
    assert cli(["kb", "build", "--corpus", str(faq), "--index", str(index)]) == 0
    assert IndexVersion(current_path(index)).model == result.path.name

    # a new phrasing makes it stale: the base model serves again, and the editor is told why
    refunds.write_text(refunds.read_text().replace("alternates:\n", "alternates:\n      - refund eta\n", 1))
    capsys.readouterr()
    assert cli(["kb", "build", "--corpus", str(faq), "--index", str(index)]) == 0
    assert "kb tune" in capsys.readouterr().err
    assert fresh_tuned(index, load_corpus(faq), "all-MiniLM-L6-v2") is None
    assert IndexVersion(current_path(index)).model == "all-MiniLM-L6-v2"
    assert kb.reload() and kb.serving_encoder.name == "all-MiniLM-L6-v2"
    assert "2 business days" in kb.version.by_id[kb.ask("how long do refunds take").decision.entry_id].answer


BANKING = DATASETS / "banking77"


@pytest.mark.skipif(not BANKING.is_dir(), reason=f"Banking77 not found at {BANKING} "
                    "(set SUPPORTBOT_DATASETS to the shared datasets folder)")
def test_public_subset_does_not_regress(tmp_path, real_encoder):
    """A fixed public subset: Banking77's first 20 intents, 10 training and 20 test utterances each."""
    files = banking77(tmp_path, shots=10, intents=20, tests=20)
    index = tmp_path / "kb_index"
    args = ["--corpus", str(files["corpus"]), "--index", str(index)]
    queries = read_queries(files["test"])
    plain = ["--answer-weight", "0", "--lexical-weight", "0"]  # placeholder answers; no BM25 yet
    assert cli(["kb", "build", *args, *plain, "--head-weight", "0"]) == 0
    frozen, _ = evaluate(IndexVersion(current_path(index)), real_encoder, queries)
    assert cli(["kb", "build", *args, *plain]) == 0
    head, _ = evaluate(IndexVersion(current_path(index)), real_encoder, queries)
    assert cli(["kb", "tune", *args, *plain]) == 0
    version = IndexVersion(current_path(index))
    assert version.model_path is not None and version.state("head") is not None
    tuned_encoder = SentenceTransformerEncoder(version.model_path)
    tuned, _ = evaluate(version, tuned_encoder, queries)
    assert cli(["kb", "build", *args, "--answer-weight", "0"]) == 0  # the default BM25 weight
    version = IndexVersion(current_path(index))
    assert version.state("lexical") is not None and version.model_path is not None
    bm25, _ = evaluate(version, tuned_encoder, queries)
    figures = {k: r["recall_at_1"]
               for k, r in (("frozen", frozen), ("head", head), ("tuned", tuned), ("tuned + BM25", bm25))}
    print("Banking77 subset recall@1:", figures)
    for name, floor in FLOORS.items():
        assert figures[name] >= floor, (name, figures)
    assert figures["tuned"] > figures["frozen"], figures


# measured when this test was written, minus 0.02 (400 queries: one query is 0.0025)
FLOORS = {"frozen": 0.90, "head": 0.915, "tuned": 0.915, "tuned + BM25": 0.915}
# measured: 0.920, 0.935, 0.935, 0.935


def test_the_tuned_model_is_exported_with_it_and_serves_through_onnx(demo, root):
    from bot.kb.onnx_encoder import OnnxEncoder
    from bot.kb.ops import build_corpus

    work, corpus, result = demo
    assert (result.path / "onnx" / "export.json").is_file()  # published with the tuned model
    index = work / "kb_index"
    built = build_corpus(Settings(root=root, corpus=work / "faq", index_dir=index), corpus, index,
                         calibrate=False)
    record = built.result.manifest["encoder_export"]
    assert record["dir"] == f"models/{result.path.name}/onnx" and record["checks"]["onnx"]["ok"]
    kb = KnowledgeBase(index, backend="onnx")
    kb.reload()
    assert isinstance(kb.serving_encoder, OnnxEncoder) and kb.serving_encoder.name == result.path.name
    assert kb.ask("how long do refunds take").decision.entry_id == "refund-time"
