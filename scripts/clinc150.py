"""Turn CLINC150 into an FAQ corpus plus query files, then build, calibrate and evaluate it.

Each intent becomes one entry (its 100 training utterances are the question and alternates,
the answer a placeholder). Thresholds come either from the corpus alone (leave-one-out plus
the generic out-of-scope set) or from the `val` split; `test` is only scored.

    .venv/bin/python scripts/clinc150.py [--data ../shared/datasets/clinc150/data_full.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
OUT = ROOT / "eval" / "clinc150"


def convert(data_file: Path, out: Path) -> dict[str, Path]:
    data = json.loads(data_file.read_text())
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    faqs = [{"id": intent, "question": texts[0], "alternates": texts[1:],
             "answer": f"(placeholder answer for the intent '{intent}')"}
            for intent, texts in sorted(by_intent.items())]
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.yml"
    corpus.write_text(yaml.safe_dump({"faqs": faqs}, allow_unicode=True, sort_keys=False))
    files = {"corpus": corpus}
    for split in ("val", "test"):
        path = out / f"{split}.csv"
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["query", "expected_id"])
            w.writerows([text, intent] for text, intent in data[split])
            w.writerows([text, ""] for text, _ in data[f"oos_{split}"])
        files[split] = path
    return files


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

    files = convert(args.data, args.out)
    encoder = load_encoder()
    index_dir = args.out / "kb_index"
    corpus = load_corpus(files["corpus"])
    build(corpus, index_dir, encoder, calibrate=False, answer_weight=0.0)
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
