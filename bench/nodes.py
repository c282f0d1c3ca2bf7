"""1 node against 2 nodes (issue 20): ``make cluster``'s topology on loopback under load, one run.

    .venv/bin/python bench/nodes.py [--quick] [--no-write] [--json-out bench/nodes.json]

For 1 and then 2 nodes it starts PostgreSQL, Redis, nginx and the nodes (each a Rasa server, an action
server behind nginx's action port, and a worker; the editor on the first) through
``bot.apps.cluster.Cluster``, on
SUPPORTBOT_BENCH_PORT + 100.. (default 25100), and sends REST FAQ turns through nginx from 32 and 128
concurrent customers, as fast as possible (each customer its own conversation, the next message as
soon as the reply came; every message distinct, from the held-out questions). Per level: turns/s,
p50/p95, errors and the CPU seconds per turn of every server process (utime + stime from /proc, of the
live processes and of their exited children, before and after); then the resident memory of each
process. Prints the figures, writes the ``<!-- nodes:start -->`` section of docs/benchmarks.md and a
projection for a 16-core machine from the measured CPU per turn. ``--quick``: a smoke run (a few turns).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.compare import write_section  # noqa: E402
from bench.run import BENCH_PORT, as_customer, machine, pct, unique_messages  # noqa: E402
from bot.apps.cluster import Cluster  # noqa: E402
from bot.apps.supervisor import ensure_index  # noqa: E402
from bot.apps.training import train_if_needed  # noqa: E402
from bot.kb.corpus import load_corpus  # noqa: E402
from bot.kb.evaluate import read_queries  # noqa: E402
from bot.settings import Settings  # noqa: E402

LEVELS = ((32, 10), (128, 3))  # (concurrent customers, turns each)
QUICK_LEVELS = ((32, 1), (128, 1))
TICK = os.sysconf("SC_CLK_TCK")
PROJECTED_CORES, PROJECTED_BUSY = 16, 0.7
TITLE = "One node against two (issue 20)"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(roots: list[int]) -> list[int]:
    parent = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat.parent.name))
        if fields:
            parent[int(stat.parent.name)] = int(fields[1])
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in parent:
            out.append(pid)
            todo += [p for p, pp in parent.items() if pp == pid]
    return out


def postmaster(port: int) -> list[int]:
    """PostgreSQL's server process (started by pg_ctl, so not our child), by its port."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"postgres") and f"{port}".encode() in args:
            return [int(cmdline.parent.name)]
    return []


def server_processes(cluster: Cluster) -> dict[int, str]:
    """Every process the topology runs, each with a role name."""
    roles: dict[int, str] = {}
    groups = ([(f"action server {i + 1}", s) for i, s in enumerate(cluster.actions)]
              + [(f"node {i + 1}", s) for i, s in enumerate(cluster.nodes)])
    for label, servers in groups:
        for name, proc in servers.procs.items():
            for pid in descendants([proc.pid]):
                roles[pid] = f"{label} {name}" + ("" if pid == proc.pid else " (child)")
    pg_port = int(cluster.postgres_url.rsplit(":", 1)[1].split("/")[0])
    for pid in descendants(postmaster(pg_port)):
        roles[pid] = "PostgreSQL (all its processes)"
    for pid in descendants([os.getpid()]):
        if pid not in roles and pid != os.getpid():
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            roles[pid] = ("multiprocessing's resource tracker" if b"resource_tracker" in cmd else
                          {"redis-server": "Redis", "nginx": "nginx (master + worker)"}.get(comm, comm))
    return roles


def cpu_seconds(pids) -> float:
    """utime + stime of each live process and of its children that exited (cutime + cstime), so a
    PostgreSQL backend that ended between two readings still counts."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += sum(int(f) for f in fields[11:15])
    return total / TICK


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, proportional) memory: PSS shares pages that forked processes have in common."""
    values = {"Rss:": 0.0, "Pss:": 0.0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *rest = line.split()
            if key in values:
                values[key] = int(rest[0]) / 1024
    except OSError:
        pass
    return values["Rss:"], values["Pss:"]


async def _customer(session, url, sender, messages) -> tuple[list[float], int]:
    times, errors = [], 0
    headers = as_customer(sender)
    for text in messages:
        t = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": text}, headers=headers) as r:
                ok = r.status == 200 and bool(await r.json())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            ok = False
        times.append(time.perf_counter() - t)
        errors += not ok
    return times, errors


async def _load(url, texts, customers, turns_each, start, label) -> tuple[list[float], int, float]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as s:
        began = time.perf_counter()
        results = await asyncio.gather(*(
            _customer(s, url, f"nodes-{label}-{customers}-{c}",
                      unique_messages(texts, start + c * turns_each, turns_each)) for c in range(customers)))
        wall = time.perf_counter() - began
    return [t for ts, _ in results for t in ts], sum(e for _, e in results), wall


def level(cluster: Cluster, url: str, texts, customers, turns_each, start, label) -> dict:
    roles = server_processes(cluster)
    groups = {kind: [p for p, name in roles.items() if name.endswith(kind)] for kind in ("rasa", "actions")}
    before = {kind: cpu_seconds(pids) for kind, pids in groups.items()}
    cpu0, own0 = cpu_seconds(roles), time.process_time()
    times, errors, wall = asyncio.run(_load(url, texts, customers, turns_each, start, label))
    cpu = cpu_seconds(roles) - cpu0
    by_kind = {f"{kind}_cpu_ms_per_turn": round(1000 * (cpu_seconds(pids) - before[kind]) / len(times), 1)
               for kind, pids in groups.items()}
    return {"customers": customers, "turns": len(times), "errors": errors, "wall_s": round(wall, 2),
            "turns_per_s": round(len(times) / wall, 1), "p50_ms": round(pct(times, 50)),
            "p95_ms": round(pct(times, 95)), "cpu_s": round(cpu, 2),
            "cpu_ms_per_turn": round(1000 * cpu / len(times), 1), **by_kind,
            "cores_busy": round(cpu / wall, 2),  # of the servers; the load generator's below
            "generator_cores_busy": round((time.process_time() - own0) / wall, 2)}


def topology(settings: Settings, nodes: int, texts, levels, folder: Path) -> dict:
    cluster = Cluster(settings, nodes, lb_port=BENCH_PORT + 100, rasa_port=BENCH_PORT + 101,
                      action_port=BENCH_PORT + 111, action_lb_port=BENCH_PORT + 109, folder=folder)
    started = time.monotonic()
    with cluster as base:
        ready = time.monotonic() - started
        url = f"{base}/webhooks/rest/webhook"
        # every node's Rasa and action server warm before measuring (nginx spreads these round-robin)
        asyncio.run(_load(url, texts, 4 * nodes, 5, 90 * len(texts), f"warm{nodes}"))
        out: dict = {"nodes": nodes, "ready_s": round(ready, 1), "levels": []}
        start = 0
        for customers, turns_each in levels:
            m = level(cluster, url, texts, customers, turns_each, start, f"{nodes}n")
            start += customers * turns_each
            print(f"{nodes} node(s), {customers} customers: {json.dumps(m)}", flush=True)
            out["levels"].append(m)
        memory: dict[str, list[float]] = {}
        for pid, name in server_processes(cluster).items():
            rss, pss = memory_mb(pid)
            row = memory.setdefault(name, [0, 0.0, 0.0])
            row[0] += 1
            row[1] += rss
            row[2] += pss
        out["memory"] = {name: {"processes": n, "rss_mb": round(r), "pss_mb": round(p)}
                         for name, (n, r, p) in sorted(memory.items())}
        print(f"{nodes} node(s), memory: {json.dumps(out['memory'])}", flush=True)
    return out


def projection(runs: list[dict]) -> list[str]:
    """16 cores from the measured CPU per turn of each topology at 128 customers; nodes from the Rasa
    servers' share (one Rasa server runs on one event loop: at most one core)."""
    lines = []
    for run in runs:
        m = run["levels"][-1]
        turns = PROJECTED_CORES * PROJECTED_BUSY / (m["cpu_ms_per_turn"] / 1000)
        nodes = math.ceil(turns * m["rasa_cpu_ms_per_turn"] / 1000 / PROJECTED_BUSY)
        lines.append(f"- from {run['nodes']} node(s): {m['cpu_ms_per_turn']:.0f} ms CPU per turn (Rasa "
                     f"{m['rasa_cpu_ms_per_turn']:.0f} ms, action server {m['actions_cpu_ms_per_turn']:.0f} "
                     f"ms) → {PROJECTED_CORES} cores × {PROJECTED_BUSY:.0%} / {m['cpu_ms_per_turn']:.0f} ms ≈ "
                     f"**{turns:.0f} turns/s**, with at least {nodes} nodes (each Rasa server "
                     f"{PROJECTED_BUSY:.0%} of one core)")
    return lines


def memory_table(runs: list[dict]) -> list[str]:
    lines = ["", "Resident memory after the load (RSS; PSS counts pages that forked processes share "
             "once, so the PSS total is the honest sum):", "",
             "| process | " + " | ".join(f"{r['nodes']} node(s): count, RSS, PSS" for r in runs) + " |",
             "|---|" + "---|" * len(runs)]
    for name in sorted({name for r in runs for name in r["memory"]}):
        cells = [f"{m['processes']}, {m['rss_mb']} MB, {m['pss_mb']} MB" if (m := r["memory"].get(name))
                 else "—" for r in runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for label, keep in (("total", lambda n: True), ("total without the editor", lambda n: "editor" not in n)):
        cells = [f"{sum(m['pss_mb'] for n, m in r['memory'].items() if keep(n))} MB PSS "
                 f"({sum(m['rss_mb'] for n, m in r['memory'].items() if keep(n))} MB RSS)" for r in runs]
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    return lines


def report(result: dict) -> list[str]:
    one, two = result["runs"][0], result["runs"][-1]
    lines = [
        f"Measured {result.get('date', '')} by `python bench/nodes.py{' --quick' if result['quick'] else ''}` "
        f"on {result['machine']}, load "
        f"average before the run {result['load_before']} (other sessions share these cores). "
        "`make cluster`'s topology (`bot.apps.cluster.Cluster`: PostgreSQL tracker store and hand-offs, Redis "
        "locks and rooms, nginx round-robin in front of the Rasa servers and, on its action port, of the "
        "action servers (ONNX int8 encoder); per node a Rasa server, an action server and a worker; the "
        "editor on node 1). REST FAQ turns through nginx, every message distinct, "
        "each customer its own conversation sending as fast as possible; the load generator (aiohttp, one "
        "process) runs on the same cores. CPU per turn: utime + stime of every server process (PostgreSQL, "
        "Redis, nginx included, the load generator not) over the level, divided by its turns.", "",
        "| nodes | customers | turns | errors | turns/s | p50 | p95 | CPU per turn | server cores busy "
        "| generator cores busy |", "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        for m in run["levels"]:
            lines.append(f"| {run['nodes']} | {m['customers']} | {m['turns']} | {m['errors']} | "
                         f"{m['turns_per_s']} | {m['p50_ms']} ms | {m['p95_ms']} ms | "
                         f"{m['cpu_ms_per_turn']:.1f} ms | {m['cores_busy']} | {m['generator_cores_busy']} |")
    if len(result["runs"]) == 2:
        lines += ["", "2 nodes / 1 node, same run: " + "; ".join(
            f"{a['customers']} customers: turns/s {b['turns_per_s'] / a['turns_per_s']:.2f}, "
            f"p95 {b['p95_ms'] / a['p95_ms']:.2f}, "
            f"CPU per turn {b['cpu_ms_per_turn'] / a['cpu_ms_per_turn']:.2f}"
            for a, b in zip(one["levels"], two["levels"])) + "."]
    lines += memory_table(result["runs"])
    lines += ["", "Start-up (PostgreSQL initdb to nginx up): "
              + ", ".join(f"{r['nodes']} node(s) {r['ready_s']} s" for r in result["runs"]) + ".", "",
              f"**Projection for a {PROJECTED_CORES}-core machine** (not measured):", "",
              *projection(result["runs"]), "",
              "Assumptions: throughput is bound by CPU and CPU per turn stays what was measured here (the "
              "2-node figure already includes the cost of sharing PostgreSQL and Redis between nodes); one "
              "Rasa server uses at most about one core (its NLU and policies run on one event loop), which "
              "sets the number of nodes; the load generator, and PostgreSQL beyond what it used "
              f"here, are elsewhere; cores {PROJECTED_BUSY:.0%} busy to keep p95 near the unloaded turn; the "
              "same CPU speed as this machine (absolute times differ ~2.5× between machines). Lock "
              "contention in PostgreSQL or Redis at that rate is not measured here.",
              "", "On 2 cores 2 nodes cannot do more work than 1: they share the same cores, and the second "
              "node adds its own processes. Where other sessions load the machine, Linux shares the cores "
              "between processes, so 2 nodes get a larger share than 1 (the cores-busy column): compare CPU "
              "per turn, not turns/s, between the topologies."]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: one turn per customer")
    p.add_argument("--nodes", type=int, nargs="+", default=[1, 2], help="topologies to run (default 1 2)")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--json-out", type=Path)
    p.add_argument("--from-json", type=Path, help="only rewrite the section from figures saved by a run")
    args = p.parse_args()
    if args.from_json:
        write_section("nodes", TITLE, report(json.loads(args.from_json.read_text())))
        return 0
    # synthetic customers type fast: no per-conversation limit; no `kb tune` (it takes minutes on
    # shared cores, and a tuned encoder has the same size and cost per message as the base one)
    settings = dataclasses.replace(Settings(root=ROOT), editor_port=BENCH_PORT + 120,
                                   messages_per_minute=10**9, tune_on_run=False)
    work = Path(tempfile.mkdtemp(prefix="supportbot-nodes-"))
    ensure_index(settings, log_dir=work)  # what make cluster does first
    train_if_needed(settings, log_file=work / "train.log")
    ids = {e.id for e in load_corpus(settings.corpus_path).entries}
    texts = [q.text for q in read_queries(ROOT / "eval" / "demo_heldout.csv", ids) if q.expected][:200]
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "quick": args.quick,
              "load_before": round(os.getloadavg()[0], 2),
              "runs": []}
    print(result["machine"], "load", result["load_before"], flush=True)
    for nodes in args.nodes:
        result["runs"].append(topology(settings, nodes, texts, QUICK_LEVELS if args.quick else LEVELS,
                                       work / f"{nodes}-nodes"))
    shutil.rmtree(work, ignore_errors=True)  # the servers' logs: kept only when a start failed
    lines = report(result)
    print("\n".join(lines))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_write:
        write_section("nodes", TITLE, lines)
        print("wrote the nodes section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
