"""Choosing evidence for issue 6 on validation data: does score aggregation over an entry's
phrasings, the head's weight, or a lexical BM25 score (rank-bm25) add to dense search + head?
The BM25 weight that does best here is the one bench/quality.py scores on the test splits.

    .venv/bin/python bench/lexical.py      # about 3 minutes; writes bench/lexical.json and a section
                                           # of docs/benchmarks.md

Banking77 and CLINC150 (in-scope intents), frozen all-MiniLM-L6-v2. Measured on a validation split
of each training set only (every 10th utterance of each intent held out, the rest is the corpus):
test splits are never read. Figures are recall@1 (the top entry) in per cent.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.datasets import DATASETS  # noqa: E402
from bench.quality import write_section  # noqa: E402
from bot.kb.encoder import load_encoder  # noqa: E402
from bot.kb.evidence import SIGNALS  # noqa: E402
from bot.kb.evidence.head import fit_head  # noqa: E402
from bot.kb.evidence.lexical import Lexical  # noqa: E402

HEAD_WEIGHT = next(s.default for s in SIGNALS if s.name == "head")

def validation_split(pairs: list[tuple[str, str]]) -> tuple[int, list, list]:
    by_intent: dict[str, list[str]] = {}
    for text, intent in pairs:
        by_intent.setdefault(intent, []).append(text)
    train, val = [], []
    for entry, intent in enumerate(sorted(by_intent)):
        for n, text in enumerate(by_intent[intent]):
            (val if n % 10 == 9 else train).append((text, entry))
    return len(by_intent), train, val


def load_sets() -> dict[str, tuple[int, list, list]]:
    rows = csv.DictReader(open(DATASETS / "banking77" / "train.csv", newline="", encoding="utf-8"))
    clinc = json.loads((DATASETS / "clinc150" / "data_full.json").read_text("utf-8"))
    return {"Banking77": validation_split([(r["text"], r["category"]) for r in rows]),
            "CLINC150": validation_split([(t, i) for t, i in clinc["train"]])}


def per_entry(scores: np.ndarray, owners: np.ndarray, entries: int, how) -> np.ndarray:
    return np.stack([how(scores[:, owners == e]) for e in range(entries)], axis=1)


def measure(entries: int, train: list, val: list, encoder) -> dict[str, float]:
    vectors = encoder.encode([t for t, _ in train], batch_size=128)
    owners = np.array([e for _, e in train])
    queries = encoder.encode([t for t, _ in val], batch_size=128)
    gold = np.array([e for _, e in val])
    cosines = queries @ vectors.T
    best = per_entry(cosines, owners, entries, lambda s: s.max(axis=1))
    top3 = per_entry(cosines, owners, entries, lambda s: np.sort(s, axis=1)[:, -3:].mean(axis=1))
    head = fit_head(vectors, owners, entries).probabilities(queries)
    bm25 = Lexical([t for t, _ in train], owners, entries)  # the product's own scoring
    lexical = np.array([bm25.scores(t) for t, _ in val])

    def recall(scores: np.ndarray) -> float:
        return round(100 * float((scores.argmax(axis=1) == gold).mean()), 2)

    def blend(dense: np.ndarray, head_weight: float, lexical_weight: float = 0.0) -> np.ndarray:
        return dense + head_weight * head + lexical_weight * lexical  # ranks as the product's average

    rows = {"nearest phrasing": recall(best), "mean of the 3 nearest phrasings": recall(top3),
            "BM25 alone": recall(lexical)}
    for w in (0.25, HEAD_WEIGHT, 1.0):
        rows[f"nearest phrasing + head {w}"] = recall(blend(best, w))
    rows[f"mean of 3 + head {HEAD_WEIGHT}"] = recall(blend(top3, HEAD_WEIGHT))
    for w in (0.1, 0.2, 0.4):
        rows[f"nearest phrasing + head {HEAD_WEIGHT} + BM25 {w}"] = recall(blend(best, HEAD_WEIGHT, w))
    rows["validation queries"] = len(val)
    return rows


def report(results: dict[str, dict[str, float]]) -> str:
    names = list(results)
    base = f"nearest phrasing + head {HEAD_WEIGHT}"

    def gain(name: str, w: float) -> str:
        return f"{results[name][f'{base} + BM25 {w}'] - results[name][base]:+.2f} on {name}"

    gains = "; ".join(f"BM25 {w}: " + ", ".join(gain(n, w) for n in names) for w in (0.2, 0.4))
    header = " | ".join(f"{n} ({results[n]['validation queries']} queries)" for n in names)
    lines = ["<!-- lexical:start -->", "### Choosing the evidence on validation splits (issue 6)",
             "", "Recall@1 (%) on validation splits of the training sets (every 10th utterance per intent "
             "held out; test splits never read), frozen all-MiniLM-L6-v2; `bench/lexical.py` (`rank-bm25` "
             "over each entry's phrasings as one document, scaled so the best entry scores 1, added to the "
             "entry score).", "", f"| scoring | {header} |", "|---|" + "---|" * len(names)]
    for label in results[names[0]]:
        if label != "validation queries":
            lines.append(f"| {label} | " + " | ".join(f"{results[n][label]:.2f}" for n in names) + " |")
    lines += ["", f"Points over the default scoring ({base}): {gains}. BM25 is in the product as "
              "`kb build --lexical-weight` (off by default); the ablation above scores weight 0.4 on "
              "the test splits. Averaging an entry's nearest "
              "phrasings helps alone but not once the head is there, so it was not added.",
              "<!-- lexical:end -->"]
    return "\n".join(lines)


def main() -> int:
    encoder = load_encoder()
    results = {name: measure(*split, encoder) for name, split in load_sets().items()}
    (ROOT / "bench" / "lexical.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    write_section(text, "lexical")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
