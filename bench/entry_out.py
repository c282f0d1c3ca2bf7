"""Ablation of leave-entry-out (bot/kb/entry_out.py): corpus-only calibration with and without its
in-domain out-of-scope samples, on the held-out-intent splits of bench/real_traffic.py.

    .venv/bin/python bench/entry_out.py                     # writes the entry-out section of docs/benchmarks.md
    .venv/bin/python bench/entry_out.py --only banking77-heldout --no-write

Each protocol is built with ``supportbot kb build`` (no tuning: the build's own calibration), then
its corpus samples are taken apart: thresholds chosen from them without the leave-entry-out samples,
and with them at two shares of the out-of-scope weight. Each set of thresholds answers the test
queries by the answer threshold and margin (as calibration counts; a clarify counts as not
answered); test labels only score. Also the time leave-entry-out adds to a calibration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench import real_traffic  # noqa: E402

SECTION = "entry-out"
STORE = ROOT / "bench" / "entry_out.json"  # figures of every protocol run so far (--only adds to them)
DEFAULT = ("banking77-heldout", "clinc150-heldout-10", "nlu-askubuntu", "nlu-webapps", "demo")
SHARES = (0.5, 0.8)  # of the out-of-scope weight; 0.8 ships (calibrate.NEAR_SHARE)


def ablation(folder: Path, sets: list[str]) -> dict:
    import numpy as np

    from bot.kb import calibrate as cal
    from bot.kb import entry_out
    from bot.kb.encoder import load_encoder
    from bot.kb.evaluate import read_queries
    from bot.kb.index import IndexVersion, current_path, embed_phrasings
    from bot.kb.models import held_out_rows
    from bot.kb.ops import corpus_samples

    index_dir = folder / "kb_index"
    version = IndexVersion(current_path(index_dir))
    encoder = load_encoder(str(version.model_path or ""))
    vectors, _ = embed_phrasings(index_dir, encoder, version.texts)
    empty = np.zeros((0, version.index.d), dtype=np.float32)
    started = time.perf_counter()
    samples = corpus_samples(version, encoder, index_dir, vectors, [], empty).samples
    with_seconds = time.perf_counter() - started
    started = time.perf_counter()
    entry_out.version_leave_entry_out(version, vectors, held_out_rows(version))
    entry_out_seconds = time.perf_counter() - started
    keep = samples.labels != cal.NEAR_OOS
    without = cal.Samples(samples.labels[keep], samples.top_ids[keep], samples.top_scores[keep])
    index_of = {e.id: i for i, e in enumerate(version.entries)}
    tests = {}
    for name in sets:
        queries = read_queries(folder / f"{name}.csv", set(version.by_id))
        texts = [q.text for q in queries]
        tests[name] = cal.query_samples(version, encoder.encode(texts, batch_size=128),
                                        [index_of[q.expected] if q.expected else -1 for q in queries], texts)
    variants = [("generic out-of-scope only (before)", without, cal.NEAR_SHARE)] + \
        [(f"+ leave-entry-out, {share:.0%} of the OOS weight", samples, share) for share in SHARES]
    rows = []
    for label, chosen, share in variants:
        thresholds, report = cal.choose_thresholds(chosen, cal.TARGET_PRECISION, near_share=share)
        for name, test in tests.items():
            answered, right = cal.answered_by(test, thresholds)
            in_scope = test.labels >= 0
            rows.append({"variant": label, "set": name, "answer": thresholds.answer,
                         "margin": thresholds.margin, "estimated": report["estimated_precision"],
                         "precision": float(right.sum() / answered.sum()) if answered.any() else None,
                         "coverage": float(answered[in_scope].mean()),
                         "accuracy": float(right[in_scope].mean()),
                         "oos_recall": float(1 - answered[~in_scope].mean()) if (~in_scope).any() else None})
    return {"rows": rows, "near_samples": int((~keep).sum()), "samples": len(samples.labels),
            "calibration_seconds": round(with_seconds, 2), "entry_out_seconds": round(entry_out_seconds, 2)}


def section(results: dict) -> str:
    fmt = real_traffic.fmt
    lines = [f"<!-- {SECTION}:start -->", "### Leave-entry-out: the ablation (issue 18)", "",
             "Measured by `.venv/bin/python bench/entry_out.py` (raw figures `bench/entry_out.json`; after "
             "`supportbot kb build`, no tuning; target 0.95; 2 cores shared with other sessions, load "
             "averages: " + ", ".join(f"{n} {r['load_average'][0]:.1f}" for n, r in results.items()) + "). "
             "Thresholds from the build's corpus samples without and with the leave-entry-out ones "
             "(the demo without its out-of-scope file's examples); measured = the test queries answered "
             "by the answer threshold and margin (clarify = not answered); test labels only score.", "",
             "| protocol | set | calibration | answer / margin | estimated | measured precision | error | "
             "coverage | in-scope acc. | OOS recall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for row in r["rows"]:
            error = None if row["precision"] is None else abs(0.95 - row["precision"])
            lines.append(f"| {name} | {row['set']} | {row['variant']} | {row['answer']} / {row['margin']} | "
                         f"{fmt(row['estimated'])} | {fmt(row['precision'])} | {fmt(error)} | "
                         f"{fmt(row['coverage'])} | {fmt(row['accuracy'])} | {fmt(row['oos_recall'])} |")
    lines += ["", "Calibration time (corpus samples and threshold search, embeddings cached) and what "
              "leave-entry-out adds: " + "; ".join(
                  f"{n}: {r['calibration_seconds']} s, of which leave-entry-out {r['entry_out_seconds']} s "
                  f"({r['near_samples']} of {r['samples']} samples)" for n, r in results.items()) + ".",
              f"<!-- {SECTION}:end -->"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(DEFAULT),
                   help="comma-separated protocols of bench/real_traffic.py")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="entry-out-"))
    results = json.loads(STORE.read_text()) if STORE.is_file() and not args.no_write else {}
    for name in [n.strip() for n in args.only.split(",")]:
        protocol = real_traffic.BY_NAME[name]
        built = real_traffic.run_protocol(protocol, work, tune=False)
        if built.get("failure"):
            print(f"{name}: {built['failure']}", file=sys.stderr)
            return 1
        if protocol.split is None:  # the demo: its held-out file
            shutil.copyfile(ROOT / "eval" / "demo_heldout.csv", work / name / "test.csv")
        results[name] = {**ablation(work / name, list(protocol.sets)),
                         "load_average": [round(x, 1) for x in os.getloadavg()]}
        for row in results[name]["rows"]:
            print(name, row, flush=True)
        if not args.no_write:
            STORE.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    text = section(results)
    print(text)
    if not args.no_write:
        from bench.quality import write_section

        write_section(text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
