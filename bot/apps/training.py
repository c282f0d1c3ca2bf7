"""Training the Rasa model when its training data changed (``rasa train`` in a child process)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from bot.apps.environment import process_env
from bot.settings import Settings

TRAINING_FILES = ("config.yml", "domain.yml", "data/nlu", "data/rules.yml", "data/stories.yml")
MODEL_NAME = "supportbot"


class TrainError(RuntimeError):
    """``rasa train`` failed; the message says where its output is."""


def rasa_bin() -> str:
    return str(Path(sys.executable).with_name("rasa"))


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


def train_if_needed(settings: Settings, log_file: Path | None = None) -> bool:
    """Train the Rasa model when its training data changed. Returns True if it trained.
    Rasa's output goes to ``log_file`` when given (else to this process's output)."""
    root = settings.root
    stamp = root / "models" / f"{MODEL_NAME}.fingerprint"
    fingerprint = training_fingerprint(root)
    if model_path(settings).exists() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    where = f" (output: {log_file})" if log_file else ""
    print(f"training the Rasa model: its training data changed (about a minute){where}...", flush=True)
    started = time.perf_counter()
    cmd = [rasa_bin(), "train", "--fixed-model-name", MODEL_NAME, "--out", str(root / "models"),
           "--data", "data/nlu", "data/rules.yml", "--domain", "domain.yml",
           "--config", "config.yml"]
    if (root / "data" / "stories.yml").exists():
        cmd.insert(cmd.index("--domain"), "data/stories.yml")
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as out:
            code = subprocess.run(cmd, cwd=root, env=process_env(settings), stdout=out,
                                  stderr=subprocess.STDOUT).returncode
    else:
        code = subprocess.run(cmd, cwd=root, env=process_env(settings)).returncode
    if code != 0:
        raise TrainError(f"rasa train failed with exit code {code}; see {log_file or 'its output above'}")
    stamp.write_text(fingerprint + "\n")
    print(f"trained in {time.perf_counter() - started:.0f} s", flush=True)
    return True
