"""How often the misplaced-phrasing warning fires on clean corpora, how often it finds a planted
misplaced alternate, and how long ``embedding_issues`` takes (cold and warm cache).

Clean: the demo FAQ (data/faq) and public corpora turned into entries (CLINC150 and Banking77 train
utterances, all or the first 10 per intent; StackFAQ questions with their rephrasings as alternates).
Planted: for each entry Y with 3+ phrasings, its last alternate p leaves Y and is added to another
entry X, either the entry (other than Y) nearest to p ("near": the realistic slip of an editor who
files it under a related entry) or a fixed pseudo-random one ("random"); p is found when its best
score to another entry's phrasing beats its best score to X's by more than the margin.

    .venv/bin/python bench/misplaced.py [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.datasets import DATASETS, slug  # noqa: E402

MARGINS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3)


def _corpus(utterances: dict[str, list[str]], answers: list[str] | None = None):
    """Entries from intents' utterances; answers are placeholders unless given (StackFAQ's)."""
    from bot.kb.corpus import Corpus, FaqEntry

    entries = [FaqEntry(id=slug(name), question=texts[0], alternates=tuple(texts[1:]),
                        answer=answers[i] if answers else "(placeholder)", file="corpus.yml", line=i + 1)
               for i, (name, texts) in enumerate(utterances.items())]
    return Corpus(entries, [], [])


def corpora(shots: int = 10) -> dict:
    from bot.kb.corpus import load_corpus

    out = {"demo data/faq": load_corpus(ROOT / "data" / "faq")}
    clinc = json.loads((DATASETS / "clinc150" / "data_full.json").read_text("utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in clinc["train"]:
        by_intent.setdefault(intent, []).append(text)
    out["clinc150 train"] = _corpus(by_intent)
    out[f"clinc150 {shots}/intent"] = _corpus({k: v[:shots] for k, v in by_intent.items()})
    rows = list(csv.DictReader(open(DATASETS / "banking77" / "train.csv", newline="", encoding="utf-8")))
    bank: dict[str, list[str]] = {}
    for r in rows:
        bank.setdefault(r["category"], []).append(r["text"])
    out["banking77 train"] = _corpus(bank)
    out[f"banking77 {shots}/intent"] = _corpus({k: v[:shots] for k, v in bank.items()})
    stack = json.loads((DATASETS / "stackfaq" / "stackExchange-FAQ.json").read_text("utf-8"))
    out["stackfaq"] = _corpus(
        {f"thread-{i}": [qa["question"], *[r for r in qa["rephr"] if isinstance(r, str) and r != "*"]]
         for i, qa in enumerate(stack["root"]["qapair"])},
        answers=[qa["answer"][0] for qa in stack["root"]["qapair"]])
    return out


def clean_rates(corpus, vectors, owners, answers, weight) -> dict:
    from bot.kb.validate import NEAR_DUPLICATE, Neighbours, placement

    p = placement(vectors, owners, Neighbours.search(vectors), answers, weight)
    gap = p.other - p.own
    has_own = p.own_id >= 0
    rates = {}
    for m in MARGINS:
        hit = has_own & (gap > m) & (p.other_cosine < NEAR_DUPLICATE)
        rates[f"{m:.2f}"] = {"phrasings": int(hit.sum()), "share": round(float(hit.sum()) / len(gap), 4),
                             "entries": len(set(owners[hit].tolist()))}
    finite = has_own & np.isfinite(gap)
    return {"n_phrasings": len(gap), "n_entries": len(corpus.entries), "warnings_at_margin": rates,
            "gap_percentiles": {q: round(float(np.percentile(gap[finite], q)), 3) for q in (50, 90, 99, 99.9)}}


def planted_rates(vectors, owners, answers, weight, seed: int = 7) -> dict:
    """Detection of one planted alternate at a time (each in its own otherwise clean corpus)."""
    rng = np.random.default_rng(seed)
    n_entries = int(owners.max()) + 1
    gaps: dict[str, list[float]] = {"near": [], "random": []}
    for y in range(n_entries):
        rows = np.flatnonzero(owners == y)
        if len(rows) < 3:
            continue
        p = rows[-1]
        sims = vectors @ vectors[p]
        sims[p] = -np.inf  # p leaves Y: Y keeps its other phrasings
        per_entry = np.full(n_entries, -np.inf)
        np.maximum.at(per_entry, owners, sims)
        if answers is not None and weight > 0:
            per_entry = (per_entry + weight * (answers @ vectors[p])) / (1 + weight)
        candidates = per_entry.copy()
        candidates[y] = -np.inf
        for kind, x in (("near", int(candidates.argmax())),
                        ("random", int(rng.choice([e for e in range(n_entries) if e != y])))):
            others = per_entry.copy()
            others[x] = -np.inf  # p now sits in X: X is its own entry
            gaps[kind].append(float(others.max() - per_entry[x]))
    out = {}
    for kind, values in gaps.items():
        g = np.asarray(values)
        out[kind] = {"n": len(g), **{f"{m:.2f}": round(float((g > m).mean()), 3) for m in MARGINS}}
    return out


def timings(corpus, encoder, weight: float) -> dict:
    from bot.kb.validate import embedding_issues

    folder = Path(tempfile.mkdtemp(prefix="misplaced-bench-"))
    try:
        t0 = time.perf_counter()
        issues = embedding_issues(corpus, encoder, index_dir=folder, answer_weight=weight)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(3):
            t0 = time.perf_counter()
            embedding_issues(corpus, encoder, index_dir=folder, answer_weight=weight)
            warm.append(time.perf_counter() - t0)
        return {"cold_s": round(cold, 3), "warm_s": round(min(warm), 3), "warnings": len(issues)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "misplaced-bench-cache",
                   help="embedding cache reused between runs")
    p.add_argument("--no-timings", action="store_true")
    args = p.parse_args()
    from bot.kb.encoder import load_encoder
    from bot.kb.evidence.answer import answer_text
    from bot.kb.index import embed_phrasings, phrasing_table
    from bot.kb.validate import ANSWER_WEIGHT

    encoder = load_encoder()
    report = {}
    for name, corpus in corpora().items():
        texts, owners = phrasing_table(corpus.entries)
        vectors, _ = embed_phrasings(args.cache, encoder, texts)
        placeholders = corpus.entries[0].answer == "(placeholder)"
        weight = 0.0 if placeholders else ANSWER_WEIGHT  # as bench/quality.py serves them
        answers = None if placeholders else embed_phrasings(
            args.cache, encoder, [answer_text(e.answer) for e in corpus.entries])[0]
        report[name] = {"answer_weight": weight,
                        "clean": clean_rates(corpus, vectors, owners, answers, weight),
                        "planted": planted_rates(vectors, owners, answers, weight)}
        if not args.no_timings and name in ("demo data/faq", "banking77 train"):
            report[name]["embedding_issues"] = timings(corpus, encoder, weight)
        print(name, json.dumps(report[name]), file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
