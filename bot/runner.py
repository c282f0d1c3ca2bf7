"""Start and stop the bot: index, training, action server and Rasa server."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)
TRAINING_FILES = ("config.yml", "domain.yml", "data/nlu", "data/rules.yml", "data/stories.yml")
MODEL_NAME = "supportbot"


class StartError(RuntimeError):
    """A server did not come up; the message says where to look."""


def rasa_bin() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def process_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.to_env())
    env.update(settings.rasa_env())
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SANIC_HOST", settings.host)
    return env


def training_fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for name in TRAINING_FILES:
        path = root / name
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path] if path.exists() else []
        for f in files:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def model_path(settings: Settings) -> Path:
    return settings.root / "models" / f"{MODEL_NAME}.tar.gz"


def train_if_needed(settings: Settings) -> bool:
    """Train the Rasa model when its training data changed. Returns True if it trained."""
    root = settings.root
    stamp = root / "models" / f"{MODEL_NAME}.fingerprint"
    fingerprint = training_fingerprint(root)
    if model_path(settings).exists() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    print("training the Rasa model (training data changed)...", flush=True)
    started = time.perf_counter()
    cmd = [rasa_bin(), "train", "--fixed-model-name", MODEL_NAME, "--out", str(root / "models"),
           "--data", "data/nlu", "data/rules.yml", "--domain", "domain.yml",
           "--config", "config.yml"]
    if (root / "data" / "stories.yml").exists():
        cmd.insert(cmd.index("--domain"), "data/stories.yml")
    subprocess.run(cmd, cwd=root, env=process_env(settings), check=True)
    stamp.write_text(fingerprint + "\n")
    print(f"trained in {time.perf_counter() - started:.0f} s", flush=True)
    return True


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
    """The action server and the Rasa server as child processes; a context manager."""

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

    def start_rasa(self, timeout: float = 180) -> None:
        s = self.settings
        proc = self._spawn("rasa", [
            sys.executable, "-m", "bot.rasa_ext.server", "run", "--model", str(model_path(s)),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
            "--interface", s.host, "--port", str(s.rasa_port), "--cors", "*"])
        wait_for(f"http://{s.host}:{s.rasa_port}/", timeout, proc)

    def start(self) -> Servers:
        try:
            self.start_actions()
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


def ensure_index(settings: Settings) -> None:
    """Build the index if the FAQ changed; then, unless SUPPORTBOT_TUNE_ON_RUN is false, adapt the
    encoder to the FAQ when no tuned model fits its phrasings (``kb tune`` rebuilds with it)."""
    from bot.cli import main as cli_main
    from bot.kb.index import current_name

    if cli_main(["kb", "build"], settings) != 0:
        if current_name(settings.index_path) is None:
            raise StartError("the FAQ index could not be built; fix the errors above")
        print("warning: the FAQ has errors; the previous index keeps serving", file=sys.stderr)
        return
    if settings.tune_on_run and needs_tuning(settings):
        print("adapting the encoder to the FAQ's phrasings (kb tune; SUPPORTBOT_TUNE_ON_RUN=false "
              "skips this)...", flush=True)
        if cli_main(["kb", "tune"], settings) != 0:
            print("warning: tuning failed; the index built with the base model keeps serving",
                  file=sys.stderr)


def needs_tuning(settings: Settings) -> bool:
    from bot.kb.corpus import load_corpus
    from bot.kb.encoder import model_name
    from bot.kb.tune import TuneOptions, fresh_tuned, read_manifest, same_options

    tuned = fresh_tuned(settings.index_path, load_corpus(settings.corpus_path), model_name(settings.model))
    return tuned is None or not same_options(read_manifest(tuned).get("options", {}), TuneOptions())


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args, settings: Settings) -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the servers on SIGTERM too
    ensure_index(settings)
    train_if_needed(settings)
    servers = Servers(settings)
    print("starting the action server and the Rasa server...", flush=True)
    try:
        servers.start()
    except StartError as exc:
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
                 (first account: .venv/bin/supportbot agents add NAME)
  terminal chat: .venv/bin/supportbot chat     (in another terminal)
  logs:          {servers.log_dir}/rasa.log, {servers.log_dir}/actions.log
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


def actions(args, settings: Settings) -> int:
    """The action server, with the model and index loaded before it accepts requests."""
    from rasa_sdk.endpoint import create_app

    from bot.handoff.redact import install_log_redaction
    from bot.runtime import knowledge_base

    logging.getLogger().setLevel(logging.INFO)
    install_log_redaction()
    # One thread per query for the encoder and numpy: more save ~2 ms of a turn, but idle BLAS
    # threads spin and burned ~55 ms of CPU per turn that the Rasa server needs under load.
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(settings.encoder_threads)
    torch.set_num_threads(settings.encoder_threads)
    kb = knowledge_base()
    if kb.error:
        log.error("starting without a usable FAQ index: %s", kb.error)
    app = create_app("actions", cors_origins=None)
    add_prefetch_route(app, kb)
    app.run(host=settings.host, port=settings.action_port, workers=1, access_log=False)
    return 0


def add_prefetch_route(app: Any, kb: Any) -> None:
    """``POST /prefetch {"text": ...}``: encode a message the FAQ action will likely ask about."""
    from sanic import response

    async def prefetch(request: Any) -> Any:
        text = (request.json or {}).get("text") if isinstance(request.json, dict) else None
        if not isinstance(text, str):
            return response.json({"error": 'send {"text": "<the customer\'s message>"}'}, status=400)
        kb.prefetch(text)
        return response.empty()

    app.add_route(prefetch, "/prefetch", methods=["POST"])


def train(args, settings: Settings) -> int:
    if not train_if_needed(settings):
        print(f"the Rasa model {model_path(settings)} is up to date")
    return 0


def chat(args, settings: Settings) -> int:
    """A minimal terminal chat over REST; numbers pick buttons."""
    url = args.url or f"http://{settings.host}:{settings.rasa_port}/webhooks/rest/webhook"
    sender = f"terminal-{os.getpid()}"
    buttons: list[dict] = []
    print("Chatting with the bot (Ctrl-D to quit).")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        body = json.dumps({"sender": sender, "message": text}).encode()
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                replies = json.loads(resp.read())
        except (urllib.error.URLError, OSError) as exc:
            print(f"error: cannot reach the bot at {url} ({exc}); is 'make run' running?")
            continue
        buttons = []
        for reply in replies:
            if reply.get("text"):
                print(f"bot> {reply['text']}")
            for b in reply.get("buttons") or []:
                buttons.append(b)
                print(f"     [{len(buttons)}] {b['title']}")
