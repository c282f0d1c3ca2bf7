"""Heavy work (index build, tuning) in a child process, so the supervisor stays small: the model,
torch and FAISS are loaded there and freed with it. Library notices go to a log file."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import warnings
from pathlib import Path
from typing import Any

from bot.apps.environment import QUIET


def call(target: str, *args: Any) -> Any:
    """Call ``"package.module:function"`` with ``args`` in this process."""
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)(*args)


def say(line: str) -> None:
    """A step's progress, on the terminal, every line indented (passed to the child by reference)."""
    print("\n".join(f"  {part}" for part in line.splitlines()), flush=True)


def _quiet(log_file: str) -> None:
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    logging.basicConfig(filename=log_file, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def run_in_child(log_file: Path, target: str, *args: Any) -> Any:
    """``call(target, *args)`` in a fresh child process; its result (or exception) comes back.
    Interrupted (Ctrl-C, SIGTERM in the parent), the child is terminated at once."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")  # nothing of the parent's state is copied
    with context.Pool(1, initializer=_quiet, initargs=(str(log_file),)) as pool:  # exit: terminate()
        return pool.apply(call, (target, *args))
