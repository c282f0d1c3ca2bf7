"""Heavy work (index build, tuning, checking an ONNX export against torch) in a child process, so
the calling process stays small: the model, torch and FAISS are loaded there and freed with it.
Library notices go to a log file."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import traceback
import warnings
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from bot.apps.environment import QUIET


class ChildDied(RuntimeError):
    """The child process exited without sending back a result (killed, out of memory, os._exit)."""


class ChildTraceback(Exception):
    """The traceback of an exception raised in the child (the ``__cause__`` of the one re-raised)."""


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


def _child(answer: Connection, log_file: str, target: str, args: tuple) -> None:
    """The child's side: ("ok", result) or ("error", traceback text, the pickled exception or None)."""
    _quiet(log_file)
    try:
        result = call(target, *args)
        try:
            answer.send(("ok", result))
            return
        except Exception as exc:  # noqa: BLE001 - the result does not pickle: say so, as an error
            raise TypeError(f"the result of {target} cannot be sent back: {exc}") from exc
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        text = traceback.format_exc()
        try:
            raised: bytes | None = pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that does not pickle comes back as its text
            raised = None
        answer.send(("error", text, raised))
    finally:
        answer.close()


def run_in_child(log_file: Path, target: str, *args: Any) -> Any:
    """``call(target, *args)`` in a fresh child process; its result comes back, or its exception is
    raised here (its traceback as the cause). A child that exits without answering raises ChildDied.
    Interrupted (Ctrl-C, SIGTERM turned into KeyboardInterrupt), the child is terminated at once."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")  # nothing of the parent's state is copied
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, str(log_file), target, args), daemon=True,
                            name=f"child {target}")
    try:
        child.start()
        send.close()  # the child holds the only sending end: its exit ends the pipe
        answer = _receive(receive, child)
    except BaseException:
        _end(child)
        raise
    finally:
        receive.close()
    child.join()
    if answer is None:
        code = child.exitcode or 0
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        raise ChildDied(f"the child process running {target} {how} without an answer; see {log_file}")
    if answer[0] == "ok":
        return answer[1]
    _, text, raised = answer
    cause = ChildTraceback(f"in the child process running {target}:\n{text}")
    try:
        exc = pickle.loads(raised) if raised is not None else None
    except Exception:  # noqa: BLE001 - an exception that does not unpickle here: its text
        exc = None
    if not isinstance(exc, BaseException):
        raise cause
    raise exc from cause


def _receive(receive: Connection, child: Any) -> tuple | None:
    """The child's answer, or None once it exited without one."""
    ready = wait([receive, child.sentinel])  # the answer, or the child's exit (then: sent before?)
    if receive in ready or receive.poll():
        try:
            return tuple(receive.recv())
        except EOFError:
            return None
    return None


def _end(child: Any) -> None:
    if child.pid is None:
        return
    child.terminate()
    child.join(5)
    if child.is_alive():
        child.kill()
        child.join()
