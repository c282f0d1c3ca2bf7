"""Resident memory of every process `supportbot run` leaves running, measured on a fresh index.

    .venv/bin/python bench/processes.py [--json-out FILE] [--tune] [--no-write] [--port BASE]

Starts `python -m bot.cli run` (the supervisor) with an empty index folder, so it builds the index
first, as a first `make run` does (tuning only with --tune: it takes many minutes on 2 cores); waits
until the Rasa server answers a few FAQ turns and the editor has loaded its encoder, then reads each
process's VmRSS, PSS (pages shared with another process counted once) and peak (VmHWM) from /proc,
and which big libraries each has mapped, and stops it all. Prints the figures and writes the
``<!-- processes:start -->`` section of docs/benchmarks.md. Uses only the command line and /proc,
so it measures any version of the project it runs in. The servers listen on BASE + 15, + 65 and
+ 67 (--port, else SUPPORTBOT_BENCH_PORT, else 25000).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MB = 1500  # issue 20: the whole running bot under 1.5 GB resident
# libraries worth naming when mapped: (label, substring of the mapped file's path)
LIBRARIES = (("torch", "/torch/"), ("onnxruntime", "/onnxruntime/"), ("faiss", "/faiss/"),
             ("scikit-learn", "/sklearn/"), ("scipy", "/scipy"), ("tensorflow", "/tensorflow"),
             ("spaCy", "/spacy/"))
BENCH_PORT = int(os.environ.get("SUPPORTBOT_BENCH_PORT", "25000"))


def ports(base: int = BENCH_PORT) -> dict[str, str]:
    return {"SUPPORTBOT_RASA_PORT": str(base + 15), "SUPPORTBOT_ACTION_PORT": str(base + 65),
            "SUPPORTBOT_EDITOR_PORT": str(base + 67)}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def libraries(pid: int) -> dict[str, float]:
    """The big libraries mapped into a process: resident MB of their files' pages (code, weights
    mapped from disk; their heap is not attributable from outside)."""
    out: dict[str, float] = {}
    label = None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:  # a mapping's header line
            path = parts[5] if len(parts) > 5 else ""
            label = next((name for name, part in LIBRARIES if part in path), None)
        elif label and line.startswith("Rss:"):
            out[label] = out.get(label, 0.0) + int(parts[1]) / 1024
    return {name: round(mb, 1) for name, mb in out.items()}


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def role(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(c.decode() for c in cmd)
    for name, marker in (("rasa", "run --model"), ("actions", "bot.cli actions"),
                         ("worker", "bot.cli worker"), ("editor", "bot.cli editor"),
                         ("multiprocessing's resource tracker", "resource_tracker")):
        if marker in text:
            return name
    return text[:60]


def turn(port: str, n: int) -> None:
    from bot.access.conversations import token_for
    from bot.settings import Settings

    sender = f"mem-{n}"
    body = json.dumps({"sender": sender, "message": "where is my order?"}).encode()
    token = token_for(Settings(root=ROOT), sender)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", body,
                                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def measure(timeout: float = 900, tune: bool = False, base: int = BENCH_PORT) -> dict:
    port = ports(base)
    work = Path(tempfile.mkdtemp(prefix="supportbot-mem-"))
    shutil.copytree(ROOT / "data" / "faq", work / "faq")
    env = {**os.environ, **port, "SUPPORTBOT_ROOT": str(ROOT), "SUPPORTBOT_CORPUS": str(work / "faq"),
           "SUPPORTBOT_INDEX_DIR": str(work / "kb_index"), "SUPPORTBOT_TRACKER_DB": str(work / "t.db"),
           "SUPPORTBOT_HANDOFF_DB": str(work / "h.db"), "SUPPORTBOT_OUT_OF_SCOPE": str(work / "oos.yml"),
           "HF_HUB_OFFLINE": "1", "SUPPORTBOT_TUNE_ON_RUN": "true" if tune else "false"}
    log = open(work / "run.log", "wb")  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"supportbot run exited ({proc.returncode}); see {work / 'run.log'}")
            if time.monotonic() - started > timeout:
                raise RuntimeError("supportbot run did not come up in time")
            try:
                turn(port["SUPPORTBOT_RASA_PORT"], 0)
                break
            except OSError:
                time.sleep(1)
        ready = time.monotonic() - started
        for n in range(1, 20):
            turn(port["SUPPORTBOT_RASA_PORT"], n)
        pids = {"supervisor": proc.pid, **{role(pid): pid for pid in children(proc.pid)}}
        if "editor" in pids:  # its builder loads the encoder as it starts
            while "onnxruntime" not in libraries(pids["editor"]) and time.monotonic() - started < timeout:
                time.sleep(1)
            time.sleep(5)
        return {"resident_mb": {name: rss_mb(pid) for name, pid in pids.items()},
                "pss_mb": {name: pss_mb(pid) for name, pid in pids.items()},
                "peak_mb": {name: rss_mb(pid, "VmHWM") for name, pid in pids.items()},
                "libraries_mb": {name: libraries(pid) for name, pid in pids.items()},
                "first_run_ready_s": round(ready, 1)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def section(r: dict) -> list[str]:
    rss, pss, peak, libs = r["resident_mb"], r["pss_mb"], r["peak_mb"], r["libraries_mb"]
    serving = [n for n in rss if n != "editor"]
    lines = [f"What a first `make run` leaves running (`bench/processes.py`: `supportbot run` on an empty "
             f"index, SUPPORTBOT_TUNE_ON_RUN={'true' if r['tuned'] else 'false'}; read after 20 FAQ turns and "
             "the editor's encoder loaded). Building runs in a child process that exits, so the supervisor "
             f"keeps none of it. Measured {r['date']} on {r['machine']}; load average {r['load'][0]:.2f} / "
             f"{r['load'][1]:.2f} / {r['load'][2]:.2f} before the run, {r['load_after'][0]:.2f} after (the "
             "machine is shared with other sessions). The action server and the editor encode through ONNX "
             "Runtime (int8); neither imports torch (the editor exports and checks its export against torch "
             "in a child process).", "",
             "| process | RSS | PSS | peak RSS (VmHWM) | big libraries mapped (their files' resident pages) |",
             "|---|---|---|---|---|"]
    for name in rss:
        by_size = sorted(libs[name].items(), key=lambda kv: -kv[1])
        mapped = ", ".join(f"{k} {v:.0f} MB" for k, v in by_size) or "—"
        lines.append(f"| {name} | {rss[name]:.0f} MB | {pss[name]:.0f} MB | {peak[name]:.0f} MB | {mapped} |")
    total, total_pss = sum(rss.values()), sum(pss.values())
    lines += [f"| **all, with the editor** | **{total:.0f} MB** | **{total_pss:.0f} MB** | | |",
              f"| **all serving processes (without the editor)** | **{sum(rss[n] for n in serving):.0f} MB** | "
              f"**{sum(pss[n] for n in serving):.0f} MB** | | |", "",
              f"Goal (issue 20): the whole running bot under {GOAL_MB / 1000:.1f} GB resident: "
              f"{'met' if total < GOAL_MB else 'not met'}, {total:.0f} MB RSS with the editor "
              f"({total / GOAL_MB:.2f} of the goal; PSS {total_pss:.0f} MB).", "",
              f"From start to the first answer: {r['first_run_ready_s']:.0f} s (build, servers; the Rasa model "
              "was already trained)."]
    return lines


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--json-out", type=Path)
    p.add_argument("--tune", action="store_true", help="let the first run tune the encoder too (minutes)")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--port", type=int, default=BENCH_PORT,
                   help="base port: the servers listen on BASE+15, +65, +67 (default %(default)s)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.compare import write_section  # here: bench.run imports this module
    from bench.run import machine

    load = os.getloadavg()
    result = measure(tune=args.tune, base=args.port)
    result.update(machine=machine(), date=f"{datetime.now(timezone.utc):%Y-%m-%d}", load=load,
                  load_after=os.getloadavg(), tuned=args.tune)
    print(json.dumps(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_write:
        write_section("processes", "Resident memory of each process", section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
