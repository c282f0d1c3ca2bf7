"""Answer-quality ablation: what each ingredient (corpus-tuned encoder, classifier head, answer text)
adds on CLINC150, Banking77 (full and 10 per intent) and the demo held-out queries.

    make quality       # or: .venv/bin/python bench/quality.py [--sets clinc150,demo]

Every figure goes through the product's own code: `kb tune` (bot.kb.tune), `kb build` (bot.kb.ops),
`kb calibrate` and `kb eval` (bot.kb.evaluate). Thresholds come from CLINC150's `val` split or, for the
demo FAQ, from the corpus alone; test queries are only scored. Writes bench/quality.json and the
ablation section of docs/benchmarks.md. Tuned models are kept under bench/work/ (not committed), so a
second run only re-encodes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.datasets import DATASETS, banking77, clinc150  # noqa: E402
from bot.kb.corpus import load_corpus  # noqa: E402
from bot.kb.encoder import SentenceTransformerEncoder, load_encoder  # noqa: E402
from bot.kb.evaluate import evaluate, read_queries  # noqa: E402
from bot.kb.index import IndexVersion, current_path  # noqa: E402
from bot.kb.ops import build, calibrate_version  # noqa: E402
from bot.kb.tune import TuneOptions, tune  # noqa: E402

WORK = ROOT / "bench" / "work"
REPORT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
CLINC_TARGET = 0.9  # target answered precision for thresholds calibrated on CLINC150's val split
DEMO_SEEDS = (13, 1, 2)  # the demo's held-out set is small: report the spread over tuning seeds

LEXICAL = 0.4  # the BM25 weight that did best on validation splits (bench/lexical.py)
# (label, tuned encoder, head weight, answer weight, lexical weight)
CONFIGS = [
    ("frozen, nearest phrasing", False, 0.0, 0.0, 0.0),
    ("frozen + head", False, 0.5, 0.0, 0.0),
    ("tuned, nearest phrasing", True, 0.0, 0.0, 0.0),
    ("tuned + head", True, 0.5, 0.0, 0.0),
]
ANSWER_CONFIGS = [  # only where answers are real text (the demo FAQ)
    ("frozen + head + answer text", False, 0.5, 0.5, 0.0),
    ("tuned + head + answer text", True, 0.5, 0.5, 0.0),
]
LEXICAL_CONFIGS = [  # the public sets
    (f"frozen + head + BM25 {LEXICAL}", False, 0.5, 0.0, LEXICAL),
    (f"tuned + head + BM25 {LEXICAL}", True, 0.5, 0.0, LEXICAL),
]
DEMO_LEXICAL_CONFIGS = [
    (f"tuned + head + answer text + BM25 {LEXICAL}", True, 0.5, 0.5, LEXICAL),
]


def dataset(name: str) -> dict:
    """Files and how thresholds are set. Tuning holds phrasings out only where the corpus alone
    calibrates (the demo): CLINC150 calibrates on its val split and Banking77 is scored by
    recall@1 (`kb tune --no-hold-out`, as the README advises when a validation file exists)."""
    out = WORK / name
    if name == "clinc150":
        return {**clinc150(out), "calibrate": "val"}
    if name == "banking77":
        return {**banking77(out), "calibrate": None}
    if name == "banking77-10shot":
        return {**banking77(out, shots=10), "calibrate": None}
    return {"corpus": ROOT / "data" / "faq", "test": ROOT / "eval" / "demo_heldout.csv",
            "calibrate": "corpus"}


SETS = ("clinc150", "banking77", "banking77-10shot", "demo")


def run_set(name: str, base, seed: int = TuneOptions.seed, work: Path | None = None) -> dict:
    files = dataset(name)
    corpus = load_corpus(files["corpus"])
    index_dir = (work or WORK / name) / "kb_index"
    started = time.perf_counter()
    options = TuneOptions(seed=seed, hold_out=files["calibrate"] == "corpus")
    tuned = tune(corpus, index_dir, options=options, progress=sys.stderr.isatty(), log=print)
    tuned_encoder = SentenceTransformerEncoder(tuned.path)
    out: dict = {"entries": len(corpus.entries),
                 "phrasings": sum(len(e.phrasings) for e in corpus.entries),
                 "tune_seconds": tuned.manifest["train_seconds"],
                 "tune_steps": tuned.manifest["steps"], "tune_epochs": tuned.manifest["options"]["epochs"],
                 "rows": {}}
    if tuned.up_to_date:
        print(f"{name}: tuned model {tuned.path.name} reused (trained in {out['tune_seconds']} s)")
    test = read_queries(files["test"])
    configs = CONFIGS + (ANSWER_CONFIGS + DEMO_LEXICAL_CONFIGS if name == "demo" else LEXICAL_CONFIGS)
    for label, use_tuned, head_weight, answer_weight, lexical_weight in configs:
        encoder = tuned_encoder if use_tuned else base
        t = time.perf_counter()
        result = build(corpus, index_dir, encoder, force=True, calibrate=files["calibrate"] == "corpus",
                       head_weight=head_weight, answer_weight=answer_weight, lexical_weight=lexical_weight)
        if files["calibrate"] == "val":
            calibrate_version(result.path, encoder, index_dir, queries=files["val"],
                              target_precision=CLINC_TARGET)
        version = IndexVersion(current_path(index_dir))
        report, _ = evaluate(version, encoder, test)
        report["build_seconds"] = round(time.perf_counter() - t, 1)
        report["thresholds"] = version.thresholds.to_json()
        out["rows"][label] = report
        print(f"{name:17s} {label:28s} recall@1 {report['recall_at_1']:.4f}"
              f"  in-scope {report['in_scope_accuracy']:.4f}  oos {report['oos_recall']}"
              f"  precision {report['answered_precision']}"
              f"  coverage {report['coverage']}", flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def over_seeds(name: str, base) -> dict:
    """``name`` once per tuning seed (each in its own folder): rows averaged, spreads kept."""
    runs = [run_set(name, base, seed, WORK / f"{name}-seed{seed}") for seed in DEMO_SEEDS]
    out = {**runs[0], "seeds": list(DEMO_SEEDS),
           "tune_seconds": round(mean(r["tune_seconds"] for r in runs), 1), "rows": {}}
    for label in runs[0]["rows"]:
        per = [r["rows"][label] for r in runs]
        row = {k: round(mean(p[k] for p in per), 4) for k in
               ("answered_precision", "coverage", "mcc", "recall_at_1", "in_scope_accuracy", "oos_recall")}
        row["per_seed"] = {k: [p[k] for p in per] for k in ("answered_precision", "coverage", "mcc")}
        out["rows"][label] = row
    return out


def pct(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def default_note(results: dict) -> list[str]:
    """What serves by default and why BM25 is part of it, in figures from ``results``."""
    tuned, bm25 = "tuned + head", f"tuned + head + BM25 {LEXICAL}"
    demo_plain, demo_bm25 = "tuned + head + answer text", f"tuned + head + answer text + BM25 {LEXICAL}"
    try:
        c, b, d = (results[k]["rows"] for k in ("clinc150", "banking77", "demo"))
        plain_p, bm25_p = (d[k]["per_seed"]["answered_precision"] for k in (demo_plain, demo_bm25))
    except KeyError:
        return []
    return [
        "What `supportbot run` serves by default: the **tuned** model (it runs `kb tune` when no tuned "
        f"model fits the FAQ's phrasings) with head, answer text and BM25 {LEXICAL}: the last rows (the "
        f"public sets have no answer text). BM25 lifted Banking77 ({pct(b[tuned]['recall_at_1'])} -> "
        f"{pct(b[bm25]['recall_at_1'])}) and made the demo FAQ's precision steadier across tuning seeds "
        f"({min(bm25_p):.3f}–{max(bm25_p):.3f}, against {min(plain_p):.3f}–{max(plain_p):.3f} without "
        "it); its cost is CLINC150 out-of-scope recall with the tuned model "
        f"({pct(c[bm25]['oos_recall'])} % against {pct(c[tuned]['oos_recall'])} %). Where many messages "
        "are out of scope, `SUPPORTBOT_LEXICAL_WEIGHT=0` turns it off."]


def section(results: dict) -> str:
    lines = [START, "## Answer quality: ablation of the ingredients (issue 6)", "",
             "Measured by `make quality` (`bench/quality.py`) on the same machine; raw figures: "
             "`bench/quality.json`. Each row adds one ingredient to all-MiniLM-L6-v2 with nearest-phrasing "
             "search: **tuned** = `supportbot kb tune` on the corpus alone (contrastive fine-tuning on its "
             "questions and alternates), **head** = the logistic-regression head blended into entry "
             "scores (`kb build --head-weight 0.5`), **answer text** = the answer's cosine as evidence "
             "(`--answer-weight 0.5`; the public sets have placeholder answers, so only the demo FAQ), "
             f"**BM25** = word matching as evidence (`--lexical-weight {LEXICAL}`, the weight chosen on "
             "validation splits by `bench/lexical.py`). "
             "Data: CLINC150 (Larson et al. 2019, CC BY 3.0), Banking77 (Casanueva et al. 2020, "
             "CC BY 4.0); Banking77 10-shot = the first 10 training utterances of each intent in file "
             "order.", ""]
    c, b, b10, d = (results.get(k) for k in SETS)
    labels = [label for label, *_ in CONFIGS + ANSWER_CONFIGS + LEXICAL_CONFIGS + DEMO_LEXICAL_CONFIGS]
    lines += ["| configuration | CLINC150 in-scope acc. / OOS recall | Banking77 full, acc. | "
              "Banking77 10-shot, acc. | demo: precision / coverage | demo: MCC |",
              "|---|---|---|---|---|---|"]
    for label in labels:
        cells = []
        row = c and c["rows"].get(label)
        cells.append(f"{pct(row['in_scope_accuracy'])} / {pct(row['oos_recall'])}" if row else "")
        for s in (b, b10):
            row = s and s["rows"].get(label)
            cells.append(pct(row["recall_at_1"]) if row else "")
        row = d and d["rows"].get(label)
        cell = f"{row['answered_precision']:.3f} / {row['coverage']:.3f}" if row else ""
        spread = row and row.get("per_seed")
        if spread and max(spread["answered_precision"]) > min(spread["answered_precision"]):
            cell += (f" ({min(spread['answered_precision']):.3f}–{max(spread['answered_precision']):.3f}"
                     f" / {min(spread['coverage']):.3f}–{max(spread['coverage']):.3f})")
        cells.append(cell)
        cells.append(f"{row['mcc']:.3f}" if row else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Goals: CLINC150 in-scope ≥ 94 % with OOS recall ≥ 60 %; Banking77 ≥ 94 % (full), "
              "≥ 87 % (10-shot); demo precision ≥ 0.97 at coverage ≥ 0.85. Published: CLINC150 BERT "
              "96.2 / 52.3; Banking77 BERT 93.66, USE+ConveRT 93.36 (full) and 85.19 (10-shot), CPFT 87.20 "
              "(10-shot).", "",
              *default_note(results), "",
              f"CLINC150 thresholds: `kb calibrate --queries val.csv --target-precision {CLINC_TARGET}`; "
              "Banking77 has no out-of-scope queries, so its figure is `recall_at_1` (the top entry, "
              "whatever the decision), comparable with published accuracy; demo thresholds from the "
              "corpus alone (`kb build`'s calibration).", "",
              "Demo: a tuned model is calibrated on the alternates `kb tune` held out of training (one per "
              "entry; leave-one-out on phrasings it trained on would be optimistic), so its figures "
              "depend on which alternates were held out, i.e. on the seed: the cells give the mean over "
              f"tuning seeds {', '.join(map(str, DEMO_SEEDS))} and, in brackets, the range (precision / "
              "coverage). 265 queries: one wrong answer moves precision by about 0.005. CLINC150 and "
              "Banking77 tune with `--no-hold-out` (their thresholds come from val, or are not needed).",
              "",
              "| set | entries | phrasings | tuning steps (epochs) | tuning time |", "|---|---|---|---|---|"]
    for name in SETS:
        s = results.get(name)
        if s:
            lines.append(f"| {name} | {s['entries']} | {s['phrasings']} | {s['tune_steps']} "
                         f"({s['tune_epochs']}) | {s['tune_seconds']:.0f} s |")
    lines += ["", "Reproduce one cell: `supportbot kb tune --corpus bench/work/<set>/corpus.yml --index "
              "bench/work/<set>/kb_index` (or `kb build ... --head-weight 0` for the frozen rows), then "
              "`supportbot kb eval --index bench/work/<set>/kb_index --queries bench/work/<set>/test.csv "
              "--json`.", END]
    return "\n".join(lines)


def write_section(text: str, name: str = "quality") -> None:
    """Replace one generated section of docs/benchmarks.md (bench/run.py keeps them when it rewrites)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    doc = REPORT.read_text("utf-8") if REPORT.exists() else "# Benchmarks\n"
    if start in doc:
        doc = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: text, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    REPORT.write_text(doc, "utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated subset of {','.join(SETS)}")
    args = p.parse_args()
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        print(f"error: unknown set(s) {unknown}; choose from {', '.join(SETS)}", file=sys.stderr)
        return 2
    if any(n != "demo" for n in names) and not DATASETS.is_dir():
        print(f"error: public datasets not found at {DATASETS}; set SUPPORTBOT_DATASETS", file=sys.stderr)
        return 1
    store = ROOT / "bench" / "quality.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    base = load_encoder()
    for name in names:
        results[name] = over_seeds(name, base) if name == "demo" else run_set(name, base)
        store.write_text(json.dumps(results, indent=2) + "\n")
    write_section(section(results))
    print(f"wrote {store.relative_to(ROOT)} and the ablation section of {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
