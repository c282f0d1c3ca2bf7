"""Served turns of two checkouts of this project, interleaved in one sitting, as ratios.

    python bench/compare.py --before ../old-checkout --section hardening --title "..."

Both checkouts serve the same index (built once here, as ``make run`` would) with their own code:
the servers of each tree are started from that tree (``Servers`` runs ``python -m ...`` in its
root), trained there if its Rasa data differs. The trees take turns, A B B A (``--rounds`` pairs),
so a machine that slows down during the run hurts both alike. Each start: a warm-up, sequential
FAQ turns over REST, then the load levels of ``bench/run.py``; the resident memory of the Rasa and
action servers after the load. Prints a table and writes it to the ``<!-- SECTION:start -->``
section of docs/benchmarks.md (``bench/run.py`` keeps such sections).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import BENCH_PORT, as_customer, load_levels, pct, unique_messages  # noqa: E402
from bot.apps.supervisor import Servers, ensure_index  # noqa: E402
from bot.apps.training import train_if_needed  # noqa: E402
from bot.kb.evaluate import read_queries  # noqa: E402
from bot.kb.index import IndexVersion, current_path  # noqa: E402
from bot.settings import Settings  # noqa: E402

SEQUENTIAL = 100


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class TreeServers(Servers):
    """``Servers`` of a checkout, which may predate the FAQ editor (then it runs without one)."""

    def start_editor(self, timeout: float = 120) -> None:
        if (self.settings.root / "bot" / "apps" / "editor_server.py").exists():
            super().start_editor(timeout)


def measure(tree: Path, index_dir: Path, work: Path, texts: list[str], tag: str) -> dict:
    settings = Settings(root=tree, index_dir=index_dir, rasa_port=BENCH_PORT + 5, action_port=BENCH_PORT + 55,
                        editor_port=BENCH_PORT + 57,
                        out_of_scope=work / "out_of_scope.yml", tracker_db=str(work / f"{tag}-tracker.db"),
                        handoff_db=str(work / f"{tag}-handoff.db"),
                        messages_per_minute=10**9)  # synthetic customers write faster than people
    train_if_needed(settings)
    with TreeServers(settings, log_dir=work / f"logs-{tag}") as servers, httpx.Client(timeout=30) as client:
        senders = [f"cmp-{tag}-{k}" for k in range(20)]
        for n, text in enumerate(unique_messages(texts, 60 * len(texts), 20)):  # warm-up
            client.post(servers.rest_url, json={"sender": senders[n], "message": text},
                        headers=as_customer(senders[n])).raise_for_status()
        times = []
        headers = [as_customer(s) for s in senders]
        for n, text in enumerate(unique_messages(texts, 0, SEQUENTIAL)):
            started = time.perf_counter()
            client.post(servers.rest_url, json={"sender": senders[n % 20], "message": text},
                        headers=headers[n % 20]).raise_for_status()
            times.append(time.perf_counter() - started)
        levels = load_levels(servers.rest_url, texts, tag)
        memory = {name: resident_mb(servers.procs[name].pid) for name in ("rasa", "actions")}
    out = {"seq_p50_ms": pct(times, 50), "seq_p95_ms": pct(times, 95), "rasa_mb": memory["rasa"],
           "actions_mb": memory["actions"]}
    for level in levels:
        key = f"{level['customers']}c" + (f"@{level['period_s']}s" if level["period_s"] else "")
        out[f"{key} turns/s"], out[f"{key} p95 ms"] = level["turns_per_s"], level["p95_ms"]
        if level["errors"]:
            raise RuntimeError(f"{tag}: {level['errors']} failed turns at {key}; see {work}/logs-{tag}")
    print(tag, out, flush=True)
    return out


ROWS = [("seq_p50_ms", "FAQ turn over REST, sequential, p50 (ms)"),
        ("seq_p95_ms", "FAQ turn over REST, sequential, p95 (ms)"),
        ("1c turns/s", "1 customer as fast as possible, turns/s"),
        ("8c turns/s", "8 customers as fast as possible, turns/s"),
        ("32c turns/s", "32 customers as fast as possible, turns/s"),
        ("32c p95 ms", "32 customers as fast as possible, p95 (ms)"),
        ("32c@0.75s p95 ms", "32 customers paced 0.75 s, p95 (ms)"),
        ("rasa_mb", "Rasa server resident memory after the load (MB)"),
        ("actions_mb", "action server resident memory after the load (MB)")]


def table(before: list[dict], after: list[dict]) -> list[str]:
    lines = ["| figure | before | after | after / before |", "|---|---|---|---|"]
    for key, label in ROWS:
        b, a = (statistics.mean(r[key] for r in runs) for runs in (before, after))
        lines.append(f"| {label} | {b:.1f} | {a:.1f} | {a / b:.2f} |")
    return lines


def write_section(name: str, title: str, body: list[str]) -> None:
    report = ROOT / "docs" / "benchmarks.md"
    text = report.read_text("utf-8")
    section = f"<!-- {name}:start -->\n## {title}\n\n" + "\n".join(body) + f"\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    report.write_text(text.rstrip("\n") + "\n", "utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    p.add_argument("--rounds", type=int, default=2, help="starts of each tree, interleaved A B B A ...")
    p.add_argument("--section", default="compare", help="section name in docs/benchmarks.md")
    p.add_argument("--title", default="Before and after, one sitting")
    p.add_argument("--note", default="", help="a paragraph under the title (what before and after are)")
    args = p.parse_args()
    before_tree = args.before.resolve()
    work = Path(tempfile.mkdtemp(prefix="supportbot-compare-"))
    try:
        shutil.copytree(ROOT / "data" / "faq", work / "faq")
        ensure_index(Settings(root=work, corpus=Path("faq"), index_dir=Path("kb_index")))
        version = IndexVersion(current_path(work / "kb_index"))
        texts = [q.text for q in read_queries(ROOT / "eval" / "demo_heldout.csv", set(version.by_id))
                 if q.expected][:200]
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        order = ["before", "after", "after", "before"] * args.rounds
        for n, which in enumerate(order[: 2 * args.rounds]):
            tree = before_tree if which == "before" else ROOT
            runs[which].append(measure(tree, work / "kb_index", work, texts, f"{which}{n}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = table(runs["before"], runs["after"])
    print("\n".join(lines))
    body = ([args.note, ""] if args.note else []) + [
        f"`python bench/compare.py --before <checkout> --rounds {args.rounds}`: the same index served by "
        f"each checkout's own servers, starts interleaved A B B A; a warm-up, {SEQUENTIAL} sequential FAQ "
        f"turns, then the load levels of `bench/run.py`; means over {args.rounds} starts of each.", "", *lines]
    write_section(args.section, args.title, body)
    print(f"wrote the {args.section} section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
