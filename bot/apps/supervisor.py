"""``supportbot run``: prepare the index and the Rasa model, then start and watch the servers.

The supervisor itself stays small: building and tuning run in a child process
(``bot.apps.child``), training in ``rasa train``; the servers are child processes whose output
goes to ``.run/<name>.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from bot.apps.child import run_in_child, say
from bot.apps.environment import process_env
from bot.apps.training import TrainError, model_path, train_if_needed
from bot.settings import Settings


class StartError(RuntimeError):
    """A server did not come up; the message says where to look."""


def wait_for(url: str, seconds: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"the server for {url} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    raise StartError(f"{url} did not answer within {seconds:.0f} s")


class Servers:
    """The action server, the background worker and the Rasa server as child processes."""

    def __init__(self, settings: Settings, log_dir: Path | None = None):
        self.settings = settings
        self.log_dir = log_dir or settings.root / ".run"
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def rest_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.rasa_port}/webhooks/rest/webhook"

    @property
    def action_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.action_port}"

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        logfile = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        env = process_env(self.settings)
        # Serving handles one message per turn: more math threads only spin idle between turns and
        # take CPU from the other server (measured ~2 ms CPU per Rasa turn; unlike training).
        for var in ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS",
                    "OPENBLAS_NUM_THREADS"):
            env.setdefault(var, "1")
        proc = subprocess.Popen(cmd, cwd=self.settings.root, env=env,
                                stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_actions(self, timeout: float = 120) -> None:
        proc = self._spawn("actions", [sys.executable, "-m", "bot.cli", "actions"])
        wait_for(self.action_url + "/health", timeout, proc)

    def start_worker(self) -> None:
        proc = self._spawn("worker", [sys.executable, "-m", "bot.cli", "worker"])
        time.sleep(0.2)
        if proc.poll() is not None:
            raise StartError(f"the background worker exited with code {proc.returncode}")

    def start_rasa(self, timeout: float = 180) -> None:
        s = self.settings
        proc = self._spawn("rasa", [
            sys.executable, "-m", "bot.rasa.launcher", "run", "--model", str(model_path(s)),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
            "--interface", s.host, "--port", str(s.rasa_port)])  # CORS: bot.rasa.channels.origins
        wait_for(f"http://{s.host}:{s.rasa_port}/", timeout, proc)

    def start(self) -> Servers:
        if not self.settings.tracker_url:  # Rasa's SQLite tracker store does not create the folder
            self.settings.path(Path(self.settings.tracker_db)).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.start_actions()
            self.start_worker()
            self.start_rasa()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Servers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


Runner = Callable[..., Any]  # (log file, "module:function", *args) -> result


def ensure_index(settings: Settings, run: Runner = run_in_child, log_dir: Path | None = None) -> None:
    """Build the index if the FAQ changed and tune when needed (``bot.kb.ops.prepare_index``, in a
    child process); stops with StartError when no index can serve."""
    log_file = (log_dir or settings.root / ".run") / "index.log"
    prepared = run(log_file, "bot.kb.ops:prepare_index", settings, sys.stderr.isatty(), say)
    for problem in prepared.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if prepared.fatal:
        raise StartError(prepared.fatal)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(settings: Settings) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the servers on SIGTERM too
    servers = Servers(settings)
    print(f"supportbot: preparing and starting (details in {servers.log_dir}/)", flush=True)
    try:
        ensure_index(settings, log_dir=servers.log_dir)
        train_if_needed(settings, log_file=servers.log_dir / "train.log")
        print("starting the action server, the background worker and the Rasa server...", flush=True)
        servers.start()
    except (StartError, TrainError) as exc:
        print(f"error: {exc}; see {servers.log_dir}/*.log", file=sys.stderr)
        return 1
    s = settings
    print(f"""
The bot is running.
  REST:          POST {servers.rest_url}
                 curl -s {servers.rest_url} -d '{{"sender": "me", "message": "where is my order?"}}'
  socket.io:     http://{s.host}:{s.rasa_port}/socket.io
  demo shop:     http://{s.host}:{s.rasa_port}/widget/demo   (the chat widget, bottom right)
  agent console: http://{s.host}:{s.rasa_port}/console/
                 (first account: .venv/bin/supportbot staff add NAME --role agent)
  terminal chat: .venv/bin/supportbot chat     (in another terminal)
  logs:          {servers.log_dir}/rasa.log, actions.log, worker.log, index.log, train.log
Press Ctrl-C to stop.""", flush=True)
    try:
        while all(p.poll() is None for p in servers.procs.values()):
            time.sleep(1)
        print("error: a server stopped; see the logs above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        servers.stop()
