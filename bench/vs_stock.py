"""Ours against stock Rasa under load, one run, and the issue-20 one-node goals checked (ratios).

    .venv/bin/python bench/vs_stock.py [--json-out bench/vs_stock.json] [--port BASE]

The load part of ``bench/run.py`` alone (its ``load_levels``: warm-up, 1, 8 and 32 customers as
fast as possible, 32 paced customers; the same distinct held-out messages for both bots), for a
sitting too short for the whole of ``make bench``: our servers (``Servers``, SQLite tracker store,
the serving index in kb_index/, as `supportbot run` serves it) and then the stock-Rasa bot of
``bench/baseline.py`` (trained first if needed). Writes the ``<!-- vs-stock:start -->`` section.
The servers listen on BASE + 5, + 6, + 55 and + 57 (--port, else SUPPORTBOT_BENCH_PORT, else 25000).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.compare import write_section  # noqa: E402
from bench.run import BENCH_PORT, load_levels, machine  # noqa: E402
from bot.apps.supervisor import Servers, ensure_index, wait_for  # noqa: E402
from bot.apps.training import rasa_bin, train_if_needed  # noqa: E402
from bot.kb.corpus import load_corpus  # noqa: E402
from bot.kb.evaluate import read_queries  # noqa: E402
from bot.settings import Settings  # noqa: E402

TITLE = "One node against stock Rasa, one sitting (issue 20)"
# the goals as (row, figure, ours / stock must be)
GOALS = ((0, "p95_ms", "≤", 0.5, "1 customer p95 ≤ 0.5× stock"),
         (2, "turns_per_s", "≥", 1.5, "32 customers as fast as possible ≥ 1.5× stock's turns/s"),
         (3, "p95_ms", "≤", 0.5, "32 paced customers p95 ≤ 0.5× stock's"))


def ours(texts: list[str], work: Path, base: int = BENCH_PORT) -> list[dict]:
    settings = Settings(root=ROOT, rasa_port=base + 5, action_port=base + 55,
                        editor_port=base + 57, tracker_db=str(work / "tracker.db"),
                        handoff_db=str(work / "handoff.db"), out_of_scope=work / "out_of_scope.yml",
                        messages_per_minute=10**9, tune_on_run=False)
    ensure_index(settings, log_dir=work)
    train_if_needed(settings, log_file=work / "train.log")
    with Servers(settings, log_dir=work / "logs") as servers:
        pids = {name: proc.pid for name, proc in servers.procs.items()}
        return load_levels(servers.rest_url, texts, "ours", pids)


def stock(texts: list[str], work: Path, base: int = BENCH_PORT) -> list[dict]:
    subprocess.run([sys.executable, str(ROOT / "bench" / "baseline.py")], check=True, stdout=subprocess.DEVNULL)
    port = base + 6
    with open(work / "baseline-rasa.log", "w") as log:
        proc = subprocess.Popen([rasa_bin(), "run", "--model", "models/baseline.tar.gz", "--interface",
                                 "127.0.0.1", "--port", str(port)], cwd=ROOT / "bench" / "baseline-bot",
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(f"http://127.0.0.1:{port}/", 300, proc)
            url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
            return load_levels(url, texts, "baseline", {"rasa": proc.pid})
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def report(r: dict) -> list[str]:
    lines = [f"Measured {r['date']} by `python bench/vs_stock.py` on {r['machine']}; load average "
             f"{r['load_before']} before, {r['load_after']} after (other sessions share these cores). The "
             "load levels of `bench/run.py` (its section *Latency under load* describes them); ours first, "
             "then stock Rasa, same messages.", "",
             "| customers | load | ours turns/s | stock turns/s | ours p95 | stock p95 | errors ours / stock "
             "| turns/s ours/stock | p95 ours/stock |", "|---|---|---|---|---|---|---|---|---|"]
    for o, s in zip(r["ours"], r["stock"]):
        how = f"paced {o['period_s']} s" if o.get("period_s") else "as fast as possible"
        lines.append(f"| {o['customers']} | {how} | {o['turns_per_s']} | {s['turns_per_s']} | "
                     f"{o['p95_ms']:.0f} ms | {s['p95_ms']:.0f} ms | {o['errors']} / {s['errors']} | "
                     f"{o['turns_per_s'] / s['turns_per_s']:.2f} | {o['p95_ms'] / s['p95_ms']:.2f} |")
    if all("cpu_ms_per_turn" in level for level in r["ours"] + r["stock"]):
        lines += ["", "CPU per turn (user + system of the servers' processes, ms; far less moved by the other "
                  "sessions than the times above):", "",
                  "| customers | load | ours: Rasa | ours: action server | ours: all processes | stock Rasa "
                  "| all ours/stock |",
                  "|---|---|---|---|---|---|---|"]
        for o, s in zip(r["ours"], r["stock"]):
            how = f"paced {o['period_s']} s" if o.get("period_s") else "as fast as possible"
            mine, theirs = sum(o["cpu_ms_per_turn"].values()), sum(s["cpu_ms_per_turn"].values())
            lines.append(f"| {o['customers']} | {how} | {o['cpu_ms_per_turn'].get('rasa', 0):.1f} | "
                         f"{o['cpu_ms_per_turn'].get('actions', 0):.1f} | {mine:.1f} | {theirs:.1f} | "
                         f"{mine / theirs:.2f} |")
    lines += ["", "The issue's one-node goals, from this run:", ""]
    for row, key, op, bound, label in GOALS:
        ratio = r["ours"][row][key] / r["stock"][row][key]
        met = ratio <= bound if op == "≤" else ratio >= bound
        lines.append(f"- {label}: {ratio:.2f} — **{'met' if met else 'not met'}**")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json-out", type=Path)
    p.add_argument("--from-json", type=Path, help="only rewrite the section from figures saved by a run")
    p.add_argument("--port", type=int, default=BENCH_PORT,
                   help="base port: the servers listen on BASE+5, +6, +55, +57 (default %(default)s)")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = p.parse_args()
    if args.from_json:
        write_section("vs-stock", TITLE, report(json.loads(args.from_json.read_text())))
        return 0
    ids = {e.id for e in load_corpus(ROOT / "data" / "faq").entries}
    texts = [q.text for q in read_queries(ROOT / "eval" / "demo_heldout.csv", ids) if q.expected][:200]
    r: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d"),
               "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="supportbot-vs-stock-") as tmp:
        r["ours"] = ours(texts, Path(tmp), args.port)
        print("ours:", json.dumps(r["ours"]), flush=True)
        r["stock"] = stock(texts, Path(tmp), args.port)
        print("stock:", json.dumps(r["stock"]), flush=True)
    r["load_after"] = round(os.getloadavg()[0], 2)
    lines = report(r)
    print("\n".join(lines))
    if args.json_out:
        args.json_out.write_text(json.dumps(r, indent=2) + "\n")
    if not args.no_write:
        write_section("vs-stock", TITLE, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
