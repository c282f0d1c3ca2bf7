"""Scale of the FAQ index: build time, search p95 and resident memory at 1k, 10k and 100k phrasings.

Each size runs in its own process so its memory figure is its own. Phrasings are synthetic
(``synthetic_corpus``: two per entry); the index type is the one ``make_faiss_index`` picks.

    .venv/bin/python bench/scale.py [--sizes 1000 10000 100000] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

THINGS = ["order", "parcel", "refund", "invoice", "password", "gift card", "warranty", "voucher", "account",
          "delivery", "return label", "subscription"]
VERBS = ["track", "cancel", "change", "find", "renew", "download", "update", "check"]


def synthetic_corpus(n_entries: int):
    from bot.kb.corpus import Corpus, FaqEntry

    rng = random.Random(0)
    entries = []
    for i in range(n_entries):
        t, v = rng.choice(THINGS), rng.choice(VERBS)
        entries.append(FaqEntry(id=f"e{i}", question=f"How do I {v} my {t} number {i}?",
                                alternates=(f"{v} {t} {i}",), answer=f"Answer {i} about {t}."))
    return Corpus(entries, [], [])


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_size(phrasings: int, work: Path) -> dict:
    """Build the index for one size into ``work``; also save query vectors for ``serve_size``."""
    import faiss

    from bot.kb.encoder import load_encoder
    from bot.kb.ops import build

    encoder = load_encoder()
    corpus = synthetic_corpus(phrasings // 2)
    rng = random.Random(1)
    queries = [f"how can I {rng.choice(VERBS)} {rng.choice(THINGS)} {rng.randrange(phrasings // 2)}"
               for _ in range(300)]
    np.save(work / "queries.npy", encoder.encode(queries))
    (work / "queries.json").write_text(json.dumps(queries))  # the search scores their words too
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building: all cores
    t = time.perf_counter()
    build(corpus, work / "idx", encoder, calibrate=False)
    build_s = time.perf_counter() - t
    t = time.perf_counter()  # the same corpus again: every vector comes from the cache
    build(corpus, work / "idx", encoder, calibrate=False, force=True)
    rebuild_cached_s = time.perf_counter() - t
    return {"phrasings": phrasings, "build_s": round(build_s, 2),
            "rebuild_cached_s": round(rebuild_cached_s, 2),
            "encoding_share": round(1 - rebuild_cached_s / build_s, 3)}


def serve_size(work: Path) -> dict:
    """In a fresh process without the model: memory the serving index adds, and search times."""
    import faiss

    from bot.kb.index import IndexVersion, current_path

    faiss.omp_set_num_threads(1)  # serving: one query at a time (DESIGN.md)
    queries = np.load(work / "queries.npy")
    texts = json.loads((work / "queries.json").read_text())
    before = rss_mb()
    version = IndexVersion(current_path(work / "idx"))
    resident = rss_mb() - before
    times = []
    for v, text in zip(queries, texts):
        t = time.perf_counter()
        version.search(v[None, :], 20, [text])
        times.append(time.perf_counter() - t)
    ms = np.asarray(times) * 1000
    return {"index_type": type(version.index).__name__, "resident_mb": round(resident, 1),
            "search_p50_ms": round(float(np.percentile(ms, 50)), 3),
            "search_p95_ms": round(float(np.percentile(ms, 95)), 3)}


def run_here(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    p.add_argument("--build", type=int, help=argparse.SUPPRESS)  # internal, one process per step
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    if args.build:
        print(json.dumps(build_size(args.build, args.work)))
        return 0
    if args.serve:
        print(json.dumps(serve_size(args.work)))
        return 0
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_here("--build", str(size), "--work", tmp)
            result.update(run_here("--serve", "--work", tmp))
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
