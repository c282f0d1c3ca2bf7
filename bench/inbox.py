"""How long grouping the editors' inbox takes: 10,000 collected questions (held-out demo questions
with the openers and closers of ``bench/run.py``, so most are distinct texts), encoded with the
packaged encoder and clustered (``bot.inbox.groups``). Prints the figures and writes the
``<!-- inbox:start -->`` section of docs/benchmarks.md.

    python bench/inbox.py [--n 10000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare import write_section  # noqa: E402
from bench.run import machine, unique_messages  # noqa: E402
from bot.inbox.groups import group_questions  # noqa: E402
from bot.inbox.store import MISS, Question  # noqa: E402
from bot.kb.encoder import load_encoder  # noqa: E402
from bot.kb.evaluate import read_queries  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    args = p.parse_args()
    texts = [q.text for q in read_queries(ROOT / "eval" / "demo_heldout.csv", None)]
    now = datetime.now(timezone.utc)
    questions = [Question(i, f"c{i % 3000}", text, MISS, None, None, [], now)
                 for i, text in enumerate(unique_messages(texts, 0, args.n))]
    encoder = load_encoder()
    encoded: dict[str, float] = {}

    def encode(batch: list[str]):
        started = time.perf_counter()
        vectors = encoder.encode(batch)
        encoded["s"] = time.perf_counter() - started
        encoded["n"] = len(batch)
        return vectors

    started = time.perf_counter()
    groups = group_questions(questions, encode)
    total = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [f"Measured by `python bench/inbox.py` on {machine()}: {args.n} collected questions "
             f"({encoded['n']} distinct texts), grouped by `bot.inbox.groups` (the packaged encoder, "
             "agglomerative clustering).", "",
             "| figure | value |", "|---|---|",
             f"| grouping, end to end | {total:.1f} s |",
             f"| of which encoding | {encoded['s']:.1f} s |",
             f"| of which clustering and summing up | {total - encoded['s']:.1f} s |",
             f"| groups | {len(groups)} (largest {max(g.count for g in groups)} questions) |",
             f"| peak resident memory of the process (encoder included) | {peak_mb:.0f} MB |", "",
             "Clustering is quadratic in distinct texts (about 4x the time per doubling); the editor "
             "page is to run it in the background worker, never in a web request."]
    print("\n".join(lines))
    write_section("inbox", "Grouping the editors' inbox", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
