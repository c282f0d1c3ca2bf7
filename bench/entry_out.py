"""Leave-entry-out calibration (issue 18): promised vs measured answered precision, before/after.

    .venv/bin/python bench/entry_out.py                 # all sets, writes docs/benchmarks.md (entry-out)
    .venv/bin/python bench/entry_out.py --only demo     # some sets; prints, writes only with --write

Per set (bench/splits.py, seeded 7; the demo FAQ with eval/demo_heldout.csv): one ``kb build`` (base
model, ``--answer-weight 0`` where answers are placeholders), the corpus-only calibration samples
computed once (``ops.corpus_samples``), then thresholds chosen by each row's calibration and scored on
the test queries (test labels only score; the served decision's global thresholds and decline rule).
Rows: ``before`` = no leave-entry-out samples (the old calibration); ``after`` = phrasings asked of
an index refitted without their entries (head, BM25, search; bot.kb.entry_out.refitted) at
IN_DOMAIN_SHARE of the out-of-scope weight; ablations: one ingredient changed each (no refit: own
entry only dropped from the hits, calib-old's version; other shares).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


from bench import splits  # noqa: E402

SECTION = "entry-out"
NO_SHORT = "ablation: refitted entry-out at 0.5, no short thresholds"
SETS = {
    "banking77-heldout": (lambda: splits.banking77_held_out(50, 10), True),
    "clinc150-heldout-10": (lambda: splits.clinc150_held_out(10), True),
    "nlu-askubuntu": (lambda: splits.nlu_corpus("askubuntu"), True),
    "nlu-webapps": (lambda: splits.nlu_corpus("webapps"), True),
    "nlu-chatbot": (lambda: splits.nlu_corpus("chatbot"), True),
    "demo": (None, False),
}
ROWS = (("before (no leave-entry-out)", None, True), ("after: refitted entry-out at 0.5", 0.5, True),
        ("ablation: entry-out without refit at 0.5", 0.5, False),
        ("ablation: entry-out without refit at 0.8", 0.8, False),
        ("ablation: refitted entry-out at 0.8", 0.8, True),
        (NO_SHORT, 0.5, True))


def measure(samples, thresholds, short=None) -> dict:
    """Answered precision, coverage (in-scope answered), OOS recall, clarify share, of ``samples``
    (``short``: which are short messages, answered past the short thresholds)."""
    from bot.kb.calibrate import answered_by

    answered, right = answered_by(samples, thresholds, short)
    oos = samples.labels < 0
    top = samples.top_scores[:, 0]
    clarified = ~answered & (top >= thresholds.clarify)
    return {"precision": round(float(right.sum() / answered.sum()), 4) if answered.any() else None,
            "coverage": round(float(answered[~oos].mean()), 4),
            "oos_recall": round(float((~answered[oos] & ~clarified[oos]).mean()), 4) if oos.any() else None,
            "clarified": round(float(clarified.mean()), 4),
            "answer": thresholds.answer, "margin": thresholds.margin, "clarify": thresholds.clarify,
            "short": None if thresholds.short_answer is None
            else f"{thresholds.short_answer} / {thresholds.short_margin}"}


def run_set(name: str, work: Path, target: float) -> dict:
    from bot.kb.encoder import load_encoder
    from bot.kb.ops import read_out_of_scope
    from bot.settings import Settings

    make, placeholders = SETS[name]
    if make is None:
        corpus_path, test_path = ROOT / "data" / "faq", ROOT / "eval" / "demo_heldout.csv"
        examples = read_out_of_scope(replace(Settings.from_env(), root=ROOT))
    else:
        files = make().write(work / name)
        corpus_path, test_path, examples = files["corpus"], files["test"], []
    index_dir = work / name / "kb_index"
    return compare(corpus_path, test_path, index_dir, load_encoder(index_dir=index_dir), examples,
                   placeholders, target)


def compare(corpus_path: Path, test_path: Path, index_dir: Path, encoder, examples: list[str],
            placeholders: bool, target: float) -> dict:
    """Build once, compute the corpus calibration samples once, score each row's thresholds."""
    import numpy as np

    from bot.kb import calibrate as cal
    from bot.kb.corpus import load_corpus
    from bot.kb.evaluate import read_queries
    from bot.kb.index import IndexVersion, embed_phrasings
    from bot.kb.ops import build, corpus_samples, example_vectors
    from bot.kb.query import is_short
    from bot.kb.short import with_short

    result = build(load_corpus(corpus_path), index_dir, encoder, calibrate=False,
                   **({"answer_weight": 0.0} if placeholders else {}))
    version = IndexVersion(result.path)
    ex_vectors = example_vectors(index_dir, encoder, examples, version.index.d)
    started = time.perf_counter()
    vectors, _ = embed_phrasings(index_dir, encoder, version.texts)
    corpus = corpus_samples(version, encoder, index_dir, vectors, examples, ex_vectors, target)
    sample_seconds = time.perf_counter() - started
    cheap = corpus_samples(version, encoder, index_dir, vectors, examples, ex_vectors, target, refit=False)
    queries = read_queries(test_path, set(version.by_id))
    index_of = {e.id: i for i, e in enumerate(version.entries)}
    q_vectors = encoder.encode([q.text for q in queries], batch_size=128)
    short = np.array([is_short(q.text) for q in queries])
    test = cal.declined(cal.query_samples(version, q_vectors, [index_of[q.expected] if q.expected else -1
                                                               for q in queries], [q.text for q in queries]),
                        q_vectors, ex_vectors)
    rows = {}
    for label, share, refit in ROWS:
        samples = (corpus if refit else cheap).samples if share is not None else cal.Samples(
            *(a[corpus.samples.labels != cal.ENTRY_OUT] for a in
              (corpus.samples.labels, corpus.samples.top_ids, corpus.samples.top_scores)))
        t = time.perf_counter()
        thresholds, report = cal.choose_thresholds(samples, target, base=version.thresholds,
                                                   in_domain_share=share or cal.IN_DOMAIN_SHARE)
        if share is not None and label != NO_SHORT:  # the short pair, from the same kind of samples
            thresholds, _ = with_short(thresholds, (corpus if refit else cheap).windows, target,
                                       in_domain_share=share)
        rows[label] = {**measure(test, thresholds, short), "believed": report["estimated_precision"],
                       "choose_seconds": round(time.perf_counter() - t, 2)}
    return {"entries": len(version.entries), "queries": len(queries), "short_queries": int(short.sum()),
            "target": target,
            "samples_seconds": round(sample_seconds, 1), "rows": rows}


def section(results: dict, load: str, rss: int) -> str:
    lines = [f"<!-- {SECTION}:start -->", "## Leave-entry-out calibration: promised vs measured (issue 18)", "",
             "Measured by `bench/entry_out.py` (part of `make quality`): per set one `kb build` (base model), "
             "corpus-only calibration samples computed once, thresholds chosen by each row's calibration, "
             "scored on the test queries (labels only score). **error** = |promised − measured| answered "
             "precision (goal ≤ 0.05, OOS recall ≥ 0.6 on held-out-intent splits). OOS recall counts an "
             "out-of-scope query as caught when it is neither answered nor offered choices. "
             f"Load average at the end {load}; peak RSS {rss} MB.", "",
             "| set | calibration | promised | believed | measured | error | coverage | OOS recall | "
             "clarified | answer / margin / clarify | short: answer / margin |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for label, m in r["rows"].items():
            err = "–" if m["precision"] is None else f"{abs(r['target'] - m['precision']):.3f}"
            lines.append(f"| {name} | {label} | {r['target']:.2f} | {m['believed']:.3f} | {m['precision']} "
                         f"| {err} "
                         f"| {m['coverage']:.3f} | {m['oos_recall']} | {m['clarified']:.3f} | "
                         f"{m['answer']} / {m['margin']} / {m['clarify']} | {m['short'] or '–'} |")
    lines += ["", "**short: answer / margin** = the pair for messages of at most two words "
              "(`bot/kb/short.py`, calibrated on 1-2-content-word windows of the phrasings, leave-entry-out "
              "as the long ones; the rows after the first); short test queries: "
              + ", ".join(f"{n} {r['short_queries']} of {r['queries']}" for n, r in results.items()) + ".",
              "", "Cost: computing the calibration samples (leave-one-out search, stand-ins, leave-entry-out) "
              "took " + ", ".join(f"{n} {r['samples_seconds']} s" for n, r in results.items())
              + " (with the refitted leave-entry-out: 5 folds of entries, each a head fit, BM25 documents "
              "and a flat search; under the load noted above).",
              f"<!-- {SECTION}:end -->"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help=f"comma-separated sets of {','.join(SETS)}")
    p.add_argument("--write", action="store_true", help="write the docs section even with --only")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        print(f"error: unknown set(s) {unknown}; choose from {', '.join(SETS)}", file=sys.stderr)
        return 2
    from bot.settings import Settings

    target = Settings.from_env().target_precision
    results = {}
    with tempfile.TemporaryDirectory(prefix="entry-out-") as tmp:
        for name in names:
            results[name] = run_set(name, Path(tmp), target)
            for label, m in results[name]["rows"].items():
                print(f"{name:20s} {label:34s} promised {target} measured {m['precision']} coverage "
                      f"{m['coverage']} oos {m['oos_recall']} clarified {m['clarified']} "
                      f"(answer {m['answer']} margin {m['margin']} clarify {m['clarify']} short {m['short']})",
                      flush=True)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"load average {load}, peak RSS {rss} MB")
    if args.write or not args.only:
        from bench.quality import write_section

        write_section(section(results, load, rss), SECTION)
        print(f"wrote the {SECTION} section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
