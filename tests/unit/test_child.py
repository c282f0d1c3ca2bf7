"""``run_in_child``: what the child returns or raises comes back, and a child that dies without an
answer (os._exit, a kill, the OOM killer) raises ChildDied instead of leaving the caller waiting."""

import threading

from bot.apps import child
from bot.apps.child import run_in_child

GUARD_S = 60.0  # a spawned child starts in 1-3 s here; hanging for ever fails the test, not the suite


def in_thread(log_file, target, *args):
    """run_in_child in a thread joined with a timeout: (result, exception), or AssertionError if it hangs."""
    out: dict = {}

    def run():
        try:
            out["result"] = run_in_child(log_file, target, *args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert not thread.is_alive(), f"run_in_child({target}) still waits after {GUARD_S} s"
    return out.get("result"), out.get("error")


def test_the_childs_result_comes_back(tmp_path):
    result, error = in_thread(tmp_path / "child.log", "math:sqrt", 16)
    assert error is None and result == 4.0


def test_the_childs_exception_is_raised_with_its_traceback(tmp_path):
    _, error = in_thread(tmp_path / "child.log", "math:sqrt", -1)
    assert isinstance(error, ValueError) and "math domain error" in str(error)
    assert "Traceback" in str(error.__cause__) and "sqrt" in str(error.__cause__)  # where it was raised


def test_a_child_that_exits_without_answering_raises_child_died(tmp_path):
    log_file = tmp_path / "export.log"
    _, error = in_thread(log_file, "os:_exit", 3)
    assert isinstance(error, getattr(child, "ChildDied", ())), error
    assert "os:_exit exited with code 3 without an answer" in str(error) and str(log_file) in str(error)
