"""Resident memory of every process `supportbot run` leaves running, measured on a fresh index.

    .venv/bin/python bench/processes.py [--json-out FILE]

Starts `python -m bot.cli run` (the supervisor) with an empty index folder, so it builds and tunes
the index first, as a first `make run` does; waits until the Rasa server answers a few FAQ turns,
then reads VmRSS of the supervisor and of each of its children from /proc, and stops it all.
Uses only the command line and /proc, so it measures any version of the project it runs in.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_PORT = int(os.environ.get("SUPPORTBOT_BENCH_PORT", "25000"))
PORTS = {"SUPPORTBOT_RASA_PORT": str(BENCH_PORT + 15), "SUPPORTBOT_ACTION_PORT": str(BENCH_PORT + 65),
         "SUPPORTBOT_EDITOR_PORT": str(BENCH_PORT + 67)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


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


def measure(timeout: float = 900) -> dict:
    work = Path(tempfile.mkdtemp(prefix="supportbot-mem-"))
    shutil.copytree(ROOT / "data" / "faq", work / "faq")
    env = {**os.environ, **PORTS, "SUPPORTBOT_ROOT": str(ROOT), "SUPPORTBOT_CORPUS": str(work / "faq"),
           "SUPPORTBOT_INDEX_DIR": str(work / "kb_index"), "SUPPORTBOT_TRACKER_DB": str(work / "t.db"),
           "SUPPORTBOT_HANDOFF_DB": str(work / "h.db"), "SUPPORTBOT_OUT_OF_SCOPE": str(work / "oos.yml"),
           "HF_HUB_OFFLINE": "1"}
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
                turn(PORTS["SUPPORTBOT_RASA_PORT"], 0)
                break
            except OSError:
                time.sleep(1)
        ready = time.monotonic() - started
        for n in range(1, 20):
            turn(PORTS["SUPPORTBOT_RASA_PORT"], n)
        out = {"supervisor": rss_mb(proc.pid)}
        for pid in children(proc.pid):
            out[role(pid)] = rss_mb(pid)
        return {"resident_mb": out, "first_run_ready_s": round(ready, 1)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    result = measure()
    print(json.dumps(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
