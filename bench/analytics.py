"""How fast the analytics page's API answers over 100,000 conversations: generated conversations
(tests/analytics_seed.py: FAQ answers, clarifies, misses, options, ratings, hand-offs with
transitions and agent messages, votes, answers) written into a real tracker store (Rasa's
``SQLTrackerStore`` on SQLite creates the table and its index; rows as its ``save`` writes them) and
our hand-off database. Measures the one-off summary build, then the API's work per request
(refresh from the watermark, figures, tables, JSON) with the summary current and with new
conversations arriving, and memory. Prints the figures and writes the ``<!-- analytics:start -->``
section of docs/benchmarks.md.

    python bench/analytics.py [--n 100000] [--days 30] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare import write_section  # noqa: E402
from bench.run import machine  # noqa: E402
from bot.analytics.period import Period  # noqa: E402
from bot.analytics.service import Analytics  # noqa: E402
from bot.db import sqlite_engine  # noqa: E402
from tests.analytics_seed import events_of, scenario, write_events, write_store  # noqa: E402

TZ = "UTC"
PAGE_BUDGET = 0.5  # bot.web.analytics.REFRESH_BUDGET


def tracker_store(path: Path) -> None:
    """The events table and index as Rasa's SQL tracker store creates them."""
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore(dialect="sqlite", db=str(path)).engine.dispose()


def generate(tracker, store, n: int, first: datetime, days: int, seed: int) -> int:
    convs = scenario(n, first, days, seed=seed, prefix=f"s{seed}-")
    rnd = random.Random(seed)
    rows = [(s.conversation_id, e) for s in convs for e in events_of(s, rnd)]
    rows.sort(key=lambda r: r[1]["timestamp"])
    for i in range(0, len(rows), 50_000):
        write_events(tracker, rows[i:i + 50_000])
    write_store(store, convs)
    return len(rows)


def timed(call, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        return measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # about 500 MB of generated stores


def measure(args: argparse.Namespace, work: Path) -> int:
    tracker_store(work / "tracker.db")
    tracker = sqlite_engine(f"sqlite:///{work / 'tracker.db'}")
    store = sqlite_engine(f"sqlite:///{work / 'handoff.db'}")
    first = (datetime.now(timezone.utc) - timedelta(days=args.days)).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    started = time.perf_counter()
    n_events = generate(tracker, store, args.n, first, args.days, seed=11)
    generated = time.perf_counter() - started
    analytics = Analytics(lambda: tracker, store, TZ)
    started = time.perf_counter()
    analytics.refresh()
    build = time.perf_counter() - started
    month = Period(first.date(), (first + timedelta(days=args.days)).date(), TZ)
    week = Period(month.last - timedelta(days=6), month.last, TZ)

    def request(period: Period) -> None:
        json.dumps(analytics.report(period, PAGE_BUDGET))

    month_s = timed(lambda: request(month), 5)
    week_s = timed(lambda: request(week), 5)
    # new traffic between two page views: 200 more conversations (~2,000 events) each time
    arriving = []
    for k in range(5):
        generate(tracker, store, 200, first + timedelta(days=args.days - 1), 1, seed=100 + k)
        arriving += timed(lambda: request(month), 1)
    tracemalloc.start()
    request(month)
    python_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ms = lambda xs: f"{1000 * statistics.median(xs):.0f} ms (max {1000 * max(xs):.0f})"  # noqa: E731
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {machine()}: {args.n:,} generated conversations "
        f"over {args.days} days ({n_events:,} tracker events in Rasa's SQLite tracker store; "
        "`python bench/analytics.py`).",
        "",
        "| what | time |",
        "|---|---|",
        f"| generating and writing the stores (once) | {generated:.1f} s |",
        f"| the summary built from no watermark (once, or after a purge / forget) | {build:.1f} s "
        f"({n_events / build:,.0f} events/s) |",
        f"| page API, {args.days + 1} days, summary current (median of 5) | {ms(month_s)} |",
        f"| page API, 7 days, summary current (median of 5) | {ms(week_s)} |",
        f"| page API, {args.days + 1} days, 200 new conversations since the last view (median of 5) | "
        f"{ms(arriving)} |",
        "",
        f"Memory: one {args.days + 1}-day request allocates at most {python_peak_mb:.1f} MB of Python objects "
        f"(tracemalloc peak); the process peaked at {rss_mb:.0f} MB RSS, generation included. The page API is "
        "what `GET /analytics/api/report` runs (refresh from the watermark with its 0.5 s budget, figures, "
        "tables, JSON), called in-process, without HTTP.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("analytics", "Analytics page over 100,000 conversations (issue 19)", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
