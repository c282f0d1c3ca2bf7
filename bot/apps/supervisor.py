"""``supportbot run``: prepare the index and the Rasa model, then start and watch the servers.

The supervisor itself stays small: building and tuning run in a child process
(``bot.apps.child``), training in ``rasa train``; the servers are child processes whose output
goes to ``.run/<name>.log``. ``Servers.watch`` starts a server that exits again, with back-off,
and keeps the others running (the rule: ``bot.apps.restarts``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from bot.apps.child import run_in_child, say
from bot.apps.environment import process_env
from bot.apps.parent_death import popen_dying_with_parent
from bot.apps.restarts import GaveUp, RestartPolicy, Restarts
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


LABELS = {"actions": "the action server", "worker": "the background worker", "rasa": "the Rasa server",
          "editor": "the FAQ editor"}


class Servers:
    """The action server, the background worker, the FAQ editor and the Rasa server as child processes,
which stop when the supervisor dies (so none is left holding its port)."""

    # each server gets SIGTERM when this supervisor dies, even by SIGKILL (bot.apps.parent_death);
    # replaced by fakes in unit tests
    popen: Callable[..., Any] = staticmethod(popen_dying_with_parent)
    clock: Callable[[], float] = time.monotonic

    def __init__(self, settings: Settings, log_dir: Path | None = None,
                 policy: RestartPolicy | None = None):
        self.settings = settings
        self.log_dir = log_dir or settings.root / ".run"
        self.policy = policy or RestartPolicy()
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}
        self.restarts: dict[str, Restarts] = {}
        self._lock = threading.RLock()  # watching and stopping never interleave
        self._stopping = False
        self._terminated: set[int] = set()  # pids already sent SIGTERM

    @property
    def rest_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.rasa_port}/webhooks/rest/webhook"

    @property
    def action_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.action_port}"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = process_env(self.settings)
        # Serving handles one message per turn: more math threads only spin idle between turns and
        # take CPU from the other server (measured ~2 ms CPU per Rasa turn; unlike training).
        for var in ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS",
                    "OPENBLAS_NUM_THREADS"):
            env.setdefault(var, "1")
        with open(self.log_path(name), "ab") as logfile:  # the child keeps its own copy open
            proc = self.popen(cmd, cwd=self.settings.root, env=env,
                              stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name], self.commands[name] = proc, cmd
        record = self.restarts.get(name)
        if record is None:
            self.restarts[name] = Restarts(self.policy, self.clock())
        else:
            record.restarted(self.clock())
        return proc

    def _note(self, name: str, message: str) -> None:
        """Tell the operator (stderr) and the server's own log."""
        line = f"supportbot: {message}"
        print(line, file=sys.stderr, flush=True)
        try:
            with open(self.log_path(name), "a", encoding="utf-8") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        except OSError:  # a full disk must not stop the watcher: stderr has it
            pass

    def watch_once(self) -> None:
        """One look at every server: schedule the restart of one that exited, restart those due.

        Raises GaveUp when a server keeps exiting right after it starts (``bot.apps.restarts``)."""
        with self._lock:
            if self._stopping:
                return
            now = self.clock()
            for name, proc in list(self.procs.items()):
                record, what = self.restarts[name], LABELS.get(name, name)
                if record.due is None:
                    code = proc.poll()
                    if code is None:
                        continue
                    uptime = now - record.started
                    try:
                        delay = record.exited(now, what)
                    except GaveUp as exc:
                        self._note(name, f"{exc} (last exit code {code})")
                        raise GaveUp(f"{exc} (last exit code {code}); see {self.log_path(name)}") from None
                    self._note(name, f"{what} exited with code {code} after {uptime:.0f} s; restarting it "
                                     f"in {delay:.0f} s (crash {record.crashes} in a row; giving up after "
                                     f"{self.policy.max_crashes + 1})")
                elif now >= record.due:
                    new = self._spawn(name, self.commands[name])
                    self._note(name, f"{what} restarted (pid {new.pid})")

    def watch(self, stop: threading.Event | None = None, interval: float = 0.5) -> None:
        """Watch until ``stop`` is set (or Ctrl-C); raises GaveUp (the servers keep running)."""
        stop = stop or threading.Event()
        while not stop.wait(interval):
            self.watch_once()

    def start_actions(self, timeout: float = 120) -> None:
        proc = self._spawn("actions", [sys.executable, "-m", "bot.cli", "actions"])
        wait_for(self.action_url + "/health", timeout, proc)

    def start_worker(self) -> None:
        proc = self._spawn("worker", [sys.executable, "-m", "bot.cli", "worker"])
        time.sleep(0.2)
        if proc.poll() is not None:
            raise StartError(f"the background worker exited with code {proc.returncode}")

    def start_editor(self, timeout: float = 120) -> None:
        proc = self._spawn("editor", [sys.executable, "-m", "bot.cli", "editor"])
        wait_for(f"http://{self.settings.host}:{self.settings.editor_port}/editor/health", timeout, proc)

    def start_rasa(self, timeout: float = 180) -> None:
        s = self.settings
        proc = self._spawn("rasa", [
            sys.executable, "-m", "bot.rasa.launcher", "run", "--model", str(model_path(s)),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
            "--interface", s.host, "--port", str(s.rasa_port)])  # CORS: bot.rasa.channels.origins
        wait_for(f"http://{s.host}:{s.rasa_port}/", timeout, proc)

    def start(self) -> Servers:
        self._stopping = False
        if not self.settings.tracker_url:  # Rasa's SQLite tracker store does not create the folder
            self.settings.path(Path(self.settings.tracker_db)).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.start_actions()
            self.start_worker()
            self.start_editor()
            self.start_rasa()
        except BaseException:
            self.stop()
            raise
        return self

    def terminate(self) -> None:
        """Ask every server to stop (SIGTERM), without waiting: :meth:`stop` waits. Several ``Servers``
        told first and waited for after stop side by side (:func:`stop_all`)."""
        with self._lock:
            self._stopping = True
            for proc in self.procs.values():
                if proc.poll() is None and proc.pid not in self._terminated:
                    os.killpg(proc.pid, signal.SIGTERM)
                    self._terminated.add(proc.pid)

    def stop(self) -> None:
        with self._lock:
            self.terminate()
            for proc in self.procs.values():
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            self.procs.clear()
            self.restarts.clear()
            self._terminated.clear()

    def __enter__(self) -> Servers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all(servers: list[Servers]) -> None:
    """Stop several ``Servers`` (a cluster's nodes) side by side: every server is sent SIGTERM first,
    then each is waited for, so the stop takes the slowest server's time, not the sum (a Rasa server
    can take seconds to close its connections)."""
    for s in servers:
        s.terminate()
    for s in servers:
        s.stop()


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
                 first a conversation: curl -s -X POST {servers.rest_url.rsplit('/', 1)[0]}/conversations
                 then: curl -s {servers.rest_url} -H 'Authorization: Bearer <token>' \\
                         -d '{{"sender": "<sender>", "message": "where is my order?"}}'
  socket.io:     http://{s.host}:{s.rasa_port}/socket.io
  demo shop:     http://{s.host}:{s.rasa_port}/widget/demo   (the chat widget, bottom right)
  agent console: http://{s.host}:{s.rasa_port}/console/
                 (first account: .venv/bin/supportbot staff add NAME --role agent)
  FAQ editor:    http://{s.host}:{s.editor_port}/editor/   (accounts with --role editor or admin)
  terminal chat: .venv/bin/supportbot chat     (in another terminal)
  logs:          {servers.log_dir}/rasa.log, actions.log, worker.log, editor.log, index.log, train.log
A server that exits is started again (rules: bot/apps/restarts.py).
Press Ctrl-C to stop.""", flush=True)
    try:
        servers.watch()
        return 0
    except GaveUp as exc:
        print(f"error: {exc}; stopping the bot", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        servers.stop()
