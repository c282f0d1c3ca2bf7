"""Turn CLINC150 into an FAQ corpus plus query files, then build, calibrate and evaluate it.

Frozen all-MiniLM-L6-v2, nearest phrasing only (bench/quality.py measures the tuned model and
the head). Each intent becomes one entry (its 100 training utterances are the question and alternates,
the answer a placeholder). Thresholds come either from the corpus alone (leave-one-out plus
the generic out-of-scope set) or from the `val` split; `test` is only scored.

    .venv/bin/python scripts/clinc150.py [--data ../shared/datasets/clinc150/data_full.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.datasets import DATASETS, clinc150  # noqa: E402

DEFAULT_DATA = DATASETS / "clinc150" / "data_full.json"
OUT = ROOT / "eval" / "clinc150"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--target-precision", type=float, default=0.95)
    p.add_argument("--val-targets", type=float, nargs="+", default=[0.95, 0.9, 0.85])
    args = p.parse_args()
    if not args.data.is_file():
        print(f"error: {args.data} not found; pass --data with CLINC150's data_full.json",
              file=sys.stderr)
        return 1
    from bot.kb.corpus import load_corpus
    from bot.kb.encoder import load_encoder
    from bot.kb.evaluate import evaluate, read_queries
    from bot.kb.index import IndexVersion, current_path
    from bot.kb.ops import build, calibrate_version

    files = clinc150(args.out, args.data)
    encoder = load_encoder()
    index_dir = args.out / "kb_index"
    corpus = load_corpus(files["corpus"])
    build(corpus, index_dir, encoder, calibrate=False, answer_weight=0.0, head_weight=0.0,
          lexical_weight=0.0)
    path = current_path(index_dir)
    results = {}
    runs = [("corpus", args.target_precision)] + [("val", t) for t in args.val_targets]
    for mode, target in runs:
        queries = files["val"] if mode == "val" else None
        thresholds, _ = calibrate_version(path, encoder, index_dir, queries=queries,
                                          target_precision=target)
        version = IndexVersion(path)
        test = read_queries(files["test"], set(version.by_id))
        report, _ = evaluate(version, encoder, test)
        results[f"{mode}@{target}"] = {**report, "thresholds": thresholds.to_json()}
        print(f"CLINC150 test, thresholds from {mode} at target precision {target}: in-scope accuracy "
              f"{report['in_scope_accuracy']:.3f}, out-of-scope recall {report['oos_recall']:.3f}, "
              f"answered precision {report['answered_precision']:.3f}, mcc {report['mcc']:.3f} "
              f"(answer >= {thresholds.answer}, margin {thresholds.margin})")
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out / 'results.json'}; reproduce the eval with: supportbot kb eval "
          f"--index {index_dir} --queries {files['test']} --json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
